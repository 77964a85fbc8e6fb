"""`stop.arrived` and `stop.departed`: emitted by the visit services in the visit's own
transaction, with a snapshot of the visit (docs/outbox.md)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from deliveries.models import Route, Stop
from deliveries.outbox import STOP_ARRIVED, STOP_DEPARTED, STOP_KINDS
from deliveries.services.driver_actions import DriverAction, driver_action_apply
from deliveries.services.routes import stop_arrive
from tenancy.context import tenant_context
from tenancy.models import Role
from tenancy.outbox.models import OutboxEvent
from tests.conftest import Tenant
from tests.deliveries.test_driver_actions import driver_ready

pytestmark = pytest.mark.django_db


def stop_events(tenant: Tenant) -> list[OutboxEvent]:
    with scopes_disabled():
        events = OutboxEvent.objects.filter(organization=tenant.organization, kind__in=STOP_KINDS)
        return list(events.order_by("id"))


def act(tenant: Tenant, stop: Stop, kind: str, **fields: Any) -> Any:
    organization_id = tenant.organization.pk
    with tenant_context(organization_id):
        return driver_action_apply(
            organization_id=organization_id,
            user=tenant.users[Role.DRIVER],
            driver_id=tenant.driver.pk,
            key=str(uuid.uuid4()),
            action=DriverAction(kind=kind, stop_id=stop.pk, **fields),
        )


def test_a_visit_emits_arrived_then_departed_with_its_snapshot(tenant_a: Tenant) -> None:
    stop = driver_ready(tenant_a)
    assert act(tenant_a, stop, "arrive", latitude=52.1, longitude=4.3).status == 200
    assert act(tenant_a, stop, "deliver", latitude=52.2, longitude=4.4).status == 200
    arrived, departed = stop_events(tenant_a)
    with scopes_disabled():
        route = Route.objects.get(pk=stop.route_id)
        visited = Stop.objects.get(pk=stop.pk)
    assert (arrived.kind, arrived.aggregate, arrived.aggregate_id) == (
        STOP_ARRIVED,
        "stop",
        stop.pk,
    )
    assert departed.kind == STOP_DEPARTED and departed.aggregate_id == stop.pk
    assert visited.actual_arrival is not None and visited.actual_departure is not None
    identity = {
        "id": stop.pk,
        "route_id": route.pk,
        "order_id": stop.order_id,
        "sequence": stop.sequence,
        "vehicle_id": route.vehicle_id,
        "driver_id": route.driver_id,
        "hub_id": route.hub_id,
    }
    assert arrived.payload["stop"] == {
        **identity,
        "order_status": "arrived",
        "arrived_at": visited.actual_arrival.isoformat(),
        "departed_at": None,
        "latitude": 52.1,
        "longitude": 4.3,
    }
    assert departed.payload["stop"] == {
        **identity,
        "order_status": "delivered",
        "arrived_at": visited.actual_arrival.isoformat(),
        "departed_at": visited.actual_departure.isoformat(),
        "latitude": 52.2,
        "longitude": 4.4,
    }


def test_a_failed_visit_departs_with_the_failed_status_and_no_position(tenant_a: Tenant) -> None:
    stop = driver_ready(tenant_a, status="arrived")
    with tenant_context(tenant_a.organization.pk):
        route = Route.objects.get(pk=stop.route_id)
        route.status = Route.Status.IN_PROGRESS
        route.save(update_fields=["status"])
    assert act(tenant_a, stop, "fail", reason_code="not_home").status == 200
    [departed] = stop_events(tenant_a)
    assert departed.kind == STOP_DEPARTED
    assert departed.payload["stop"]["order_status"] == "failed"
    assert (departed.payload["stop"]["latitude"], departed.payload["stop"]["longitude"]) == (
        None,
        None,
    )


def test_a_rolled_back_visit_leaves_no_event(tenant_a: Tenant) -> None:
    stop = driver_ready(tenant_a)
    organization_id = tenant_a.organization.pk
    with tenant_context(organization_id):
        Route.objects.filter(pk=stop.route_id).update(status=Route.Status.DISPATCHED)
    with pytest.raises(RuntimeError), tenant_context(organization_id), transaction.atomic():
        stop_arrive(organization_id=organization_id, stop_id=stop.pk, source="driver")
        assert [event.kind for event in stop_events(tenant_a)] == [STOP_ARRIVED]
        raise RuntimeError("the caller fails after the arrival")
    assert stop_events(tenant_a) == []
    with scopes_disabled():
        assert Stop.objects.get(pk=stop.pk).actual_arrival is None


def test_a_refused_action_emits_nothing(tenant_a: Tenant) -> None:
    # Delivering before arriving is refused by the order's state machine (409): the savepoint
    # that held the attempt takes any event with it.
    stop = driver_ready(tenant_a)
    assert act(tenant_a, stop, "arrive").status == 200
    assert act(tenant_a, stop, "arrive").status == 409
    assert [event.kind for event in stop_events(tenant_a)] == [STOP_ARRIVED]
