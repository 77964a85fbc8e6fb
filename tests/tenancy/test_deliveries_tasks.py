"""Deliveries' tasks in the cross-tenant harness: each tenant task, run for organization A with
organization B's ids, reads and changes nothing of B's; the same run for B does (so the check
would see a leak). The ETA beat's one cross-tenant read is its resolver, which answers ids. A
new `deliveries.*` task that takes an organization must be listed here (the coverage test fails
otherwise)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from deliveries.models import Route, Stop, WebhookDelivery
from deliveries.resolvers import route_etas_organizations_due
from fleet.models import VehicleState
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

# task name -> kwargs naming organization `of`'s ids, run for organization `run_for`
TASK_KWARGS: dict[str, Callable[[Tenant, Tenant], dict[str, Any]]] = {
    "deliveries.route_etas_refresh": lambda run_for, of: {
        "organization_id": run_for.organization.pk,
        "route_id": of.delivery_objects[Route].pk,
    },
    "deliveries.route_etas_refresh_organization": lambda run_for, of: {
        "organization_id": run_for.organization.pk
    },
}
# The webhook attempt's foreign-id test: webhook_deliver below (it changes B's delivery when
# run for B, so its own positive control is the webhook tests).
COVERED_BELOW = {"deliveries.webhook_deliver"}


def deliveries_tenant_tasks() -> set[str]:
    from config.celery import app

    app.loader.import_default_modules()
    return {
        name for name, task in app.tasks.items()
        if name.startswith("deliveries.")
        and "organization_id" in inspect.signature(task.run).parameters
    }  # fmt: skip


def test_every_deliveries_tenant_task_is_covered() -> None:
    missing = deliveries_tenant_tasks() - set(TASK_KWARGS) - COVERED_BELOW
    assert not missing, f"Add these tasks to tests/tenancy/test_deliveries_tasks.py: {missing}"


def _on_the_road_and_moved(tenant: Tenant) -> Stop:
    """The tenant's route dispatched, its vehicle just reported, its stop without an ETA."""
    route, stop = tenant.delivery_objects[Route], tenant.delivery_objects[Stop]
    now = timezone.now()
    with scopes_disabled():
        Route.objects.filter(pk=route.pk).update(status=Route.Status.DISPATCHED)
        Stop.objects.filter(pk=stop.pk).update(eta=None, eta_updated_at=None)
        VehicleState.objects.create(
            organization=tenant.organization, vehicle=tenant.vehicle, fix_time=now,
            server_time=now, latitude=tenant.hub.latitude, longitude=tenant.hub.longitude,
        )  # fmt: skip
    return stop


def _eta_of(stop: Stop) -> Any:
    with scopes_disabled():
        return Stop.objects.get(pk=stop.pk).eta


def test_the_eta_beat_resolver_names_only_organizations_with_moved_routes(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    assert route_etas_organizations_due() == []  # planned routes, no fixes
    _on_the_road_and_moved(tenant_b)
    assert route_etas_organizations_due() == [tenant_b.organization.pk]


@pytest.mark.parametrize("name", sorted(TASK_KWARGS))
def test_deliveries_tasks_with_foreign_ids_touch_nothing_of_the_other_tenant(
    name: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    from config.celery import app

    app.loader.import_default_modules()
    stop = _on_the_road_and_moved(tenant_b)
    app.tasks[name].apply(kwargs=TASK_KWARGS[name](tenant_a, tenant_b)).get()
    assert _eta_of(stop) is None
    # The control: B's own run refreshes B's stop, so the check above would see a leak.
    app.tasks[name].apply(kwargs=TASK_KWARGS[name](tenant_b, tenant_b)).get()
    assert _eta_of(stop) is not None


def test_webhook_deliver_with_a_foreign_delivery_sends_nothing(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    from deliveries.tasks import webhook_deliver

    delivery = tenant_b.delivery_objects[WebhookDelivery]
    with scopes_disabled():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now()
        )
    webhook_deliver.apply(args=(delivery.pk, tenant_a.organization.pk)).get()
    with scopes_disabled():
        after = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (after.status, after.attempts) == (WebhookDelivery.Status.PENDING, 1)
