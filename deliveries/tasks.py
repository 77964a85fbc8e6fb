"""Every Celery task of deliveries. Tasks are thin: they take ids and the organization, enter
its tenant context and call a service. Beat tasks list the organizations and call the service
inside each organization's own context, one after the other. Task names are the contract with
the beat schedule (config/settings/base.py) and queued messages: they never change.
(Plan changes refresh their route's ETAs themselves, on commit: no task needed there.)"""

from __future__ import annotations

from celery import Task, shared_task

from tenancy.context import tenant_context
from tenancy.models import Organization
from tenancy.tasks import tenant_task

from .services import eta
from .services.webhooks import (
    WEBHOOK_DELIVER_TASK,
    webhook_deliveries_resend_due,
    webhook_delivery_attempt,
)


@tenant_task(name=WEBHOOK_DELIVER_TASK, bind=True, max_retries=None)
def webhook_deliver(self: Task, delivery_id: int, organization_id: int) -> None:
    """One attempt of a webhook delivery; schedules the next one with backoff when it failed."""
    delay = webhook_delivery_attempt(organization_id=organization_id, delivery_id=delivery_id)
    if delay is not None:
        # The attempt count lives on the row, so Celery's own retry limit is not used.
        raise self.retry(countdown=delay)


@shared_task(name="deliveries.webhook_resend_due")
def webhook_resend_due() -> int:
    """Beat: re-enqueue the deliveries whose retry is due (or whose message was lost)."""
    return webhook_deliveries_resend_due()


@shared_task(name="deliveries.route_etas_refresh_moved")
def route_etas_refresh_moved() -> int:
    """Beat: refresh the routes whose vehicle moved since their last refresh. This is the
    throttle on position-driven refreshes: at most one per route per beat period, and the
    ingest path never waits for it."""
    refreshed = 0
    for organization_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        with tenant_context(organization_id):
            refreshed += eta.route_etas_refresh_due(organization_id=organization_id)
    return refreshed
