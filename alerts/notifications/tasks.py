"""Celery tasks of the notifications (imported by AlertsConfig.ready: autodiscovery finds only
alerts/tasks.py). Late acknowledgement: a worker killed mid-send leaves the message queued;
the rerun finds the row sent (or sends it once, see sending.py)."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from kombu.exceptions import OperationalError

from tenancy.models import Organization
from tenancy.tasks import tenant_task

from .sending import notification_digests_build, notification_email_send, notifications_due_keys

logger = logging.getLogger(__name__)
RETRY_SECONDS = (10, 30, 120, 600, 1800)


@tenant_task(name="alerts.notification_send", bind=True, acks_late=True, max_retries=None)
def notification_send(self: Task, organization_id: int, key: str) -> bool:
    try:
        return notification_email_send(organization_id=organization_id, key=key)
    except OSError as exc:
        delay = RETRY_SECONDS[min(self.request.retries, len(RETRY_SECONDS) - 1)]
        raise self.retry(countdown=delay, exc=exc) from exc


def notifications_send_enqueue(organization_id: int, keys: list[str]) -> None:
    """On commit: one task per email. A lost message is sent by the minute tick, which finds
    pending rows without a send time too (see notifications_tick_organization)."""
    for key in keys:
        try:
            notification_send.delay(organization_id, key)
        except OperationalError:
            logger.warning("alerts: could not enqueue the email %s; the tick sends it", key)


@tenant_task(name="alerts.notifications_tick_organization", acks_late=True)
def notifications_tick_organization(organization_id: int) -> int:
    """Due emails (quiet hours over, storm windows closed, lost messages) and due digests."""
    keys = notifications_due_keys(organization_id=organization_id)
    keys += notification_digests_build(organization_id=organization_id)
    notifications_send_enqueue(organization_id, keys)
    return len(keys)


@shared_task(name="alerts.notifications_tick")
def notifications_tick() -> int:
    """Beat, every minute: one task per organization (fanned out, never one loop over all)."""
    organization_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    for organization_id in organization_ids:
        notifications_tick_organization.delay(organization_id)
    return len(organization_ids)
