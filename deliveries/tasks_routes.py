"""Celery beat tasks of routes and ETAs. Thin: they list the organizations and call the
services inside each organization's own tenant context, one after the other.
(Plan changes refresh their route's ETAs themselves, on commit: no task needed there.)"""

from __future__ import annotations

from celery import shared_task

from tenancy.context import tenant_context
from tenancy.models import Organization

from . import eta


@shared_task(name="deliveries.route_etas_refresh_moved")
def route_etas_refresh_moved() -> int:
    """Beat: refresh the routes whose vehicle moved since their last refresh. This is the
    throttle on position-driven refreshes: at most one per route per beat period, and the
    ingest path never waits for it."""
    refreshed = 0
    for organization_id in Organization.objects.order_by("pk").values_list("pk", flat=True):
        with tenant_context(organization_id):
            for route_id in eta.route_ids_due_for_refresh(organization_id=organization_id):
                eta.route_etas_refresh(organization_id=organization_id, route_id=route_id)
                refreshed += 1
    return refreshed
