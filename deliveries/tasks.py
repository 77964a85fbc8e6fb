"""Every Celery task of deliveries. Tasks are thin: they take ids and the organization, enter
its tenant context (`@tenant_task`) and call a service. Beat tasks ask a resolver which
organizations have work and enqueue one tenant task each; none loops over the organizations
doing the work itself. Task names are the contract with the beat schedule
(config/settings/base.py), the services that enqueue by name and queued messages: they never
change."""

from __future__ import annotations

from celery import Task, shared_task

from tenancy.tasks import tenant_task

from .models import Route
from .resolvers import route_etas_organizations_due
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


@tenant_task(name=eta.ROUTE_ETAS_REFRESH_TASK)
def route_etas_refresh(organization_id: int, route_id: int) -> int:
    """One route's ETAs, after a plan change or a visit committed (enqueued on commit by
    deliveries.services.routes); returns how many ETAs moved enough to be announced."""
    try:
        changes = eta.route_etas_refresh(organization_id=organization_id, route_id=route_id)
    except Route.DoesNotExist:
        return 0  # deleted since (or not this organization's): nothing to refresh
    return len(changes)


@tenant_task(name="deliveries.route_etas_refresh_organization")
def route_etas_refresh_organization(organization_id: int) -> int:
    """The organization's routes whose vehicle moved since their last refresh; returns how many
    were refreshed."""
    return eta.route_etas_refresh_due(organization_id=organization_id)


@shared_task(name="deliveries.route_etas_refresh_moved")
def route_etas_refresh_moved() -> int:
    """Beat: one refresh task per organization with a route whose vehicle moved since its last
    refresh (a SECURITY DEFINER resolver names them). This is the throttle on position-driven
    refreshes: at most one per route per beat period, and the ingest path never waits for it.
    Returns how many organizations were sent a task."""
    organization_ids = route_etas_organizations_due()
    for organization_id in organization_ids:
        route_etas_refresh_organization.delay(organization_id)
    return len(organization_ids)
