"""Delivery events evaluated against the event kinds: failed delivery (opened on the event,
resolved by the sweep when the order moves on) and the joined kinds (delivered far from the
address by the phone's geo-stamp and the vehicle's positions; failed without a visit)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from alerts.evaluation.events import order_event_evaluate
from alerts.evaluation.scheduled import organization_sweep
from alerts.models import Alert
from deliveries.models import Order, OrderStatus, ProofOfDelivery, Route
from tenancy.context import tenant_context
from tenancy.outbox import outbox_emit
from tenancy.outbox.models import OutboxEvent
from tests.alerts.support import alerts_of, at, positions_insert, rule_create
from tests.alerts.tracks import drive, offset
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def status_event(tenant: Tenant, status: str, when: dt.datetime) -> OutboxEvent:
    order = tenant.order
    assert order is not None
    with scopes_disabled():
        Order.objects.filter(pk=order.pk).update(status=status, latitude=52.37, longitude=4.89)
        Route.objects.filter(organization=tenant.organization).update(vehicle=tenant.vehicle)
    with tenant_context(tenant.organization.pk), transaction.atomic():
        outbox_emit(
            organization_id=tenant.organization.pk, kind="order.status_changed", aggregate="order",
            aggregate_id=order.pk,
            payload={"order": {"id": order.pk, "status": status, "updated_at": when.isoformat()}},
        )  # fmt: skip
    with scopes_disabled():
        return OutboxEvent.objects.filter(organization=tenant.organization).latest("id")


def evaluate(tenant: Tenant, event: OutboxEvent) -> int:
    with tenant_context(tenant.organization.pk):
        return order_event_evaluate(event)


def test_failed_delivery_opens_once_and_resolves_when_the_order_moves_on(tenant_a: Tenant) -> None:
    rule_create(tenant_a, "delivery_failed")
    event = status_event(tenant_a, OrderStatus.FAILED, at(0))
    assert evaluate(tenant_a, event) == 1
    assert evaluate(tenant_a, event) == 0  # the event seen twice
    (alert,) = alerts_of(tenant_a)
    assert alert.order_id == tenant_a.order.pk  # type: ignore[union-attr]
    with scopes_disabled():
        Order.objects.filter(pk=alert.order_id).update(status=OrderStatus.RETURNED_TO_HUB)
    with tenant_context(tenant_a.organization.pk):
        organization_sweep(organization_id=tenant_a.organization.pk)
    assert alerts_of(tenant_a)[0].status == Alert.Status.RESOLVED


def test_delivered_far_from_the_address_by_phone_and_vehicle(tenant_a: Tenant) -> None:
    rule_create(tenant_a, "pod_far_from_address", params={"distance_m": 300})
    far = offset(0, 2000)
    with scopes_disabled():
        ProofOfDelivery.objects.filter(order=tenant_a.order).update(
            latitude=far[0], longitude=far[1]
        )
    positions_insert(tenant_a, drive(start_t=0, seconds=120, kmh=0, start_east_m=2000))
    assert evaluate(tenant_a, status_event(tenant_a, OrderStatus.DELIVERED, at(60))) == 1
    (alert,) = alerts_of(tenant_a)
    assert 1900 < alert.details["phone_m"] < 2100 and 1900 < alert.details["vehicle_m"] < 2100


def test_delivered_at_the_door_is_quiet(tenant_a: Tenant) -> None:
    rule_create(tenant_a, "pod_far_from_address", params={"distance_m": 300})
    with scopes_disabled():
        ProofOfDelivery.objects.filter(order=tenant_a.order).update(
            latitude=52.3701, longitude=4.8901
        )
    positions_insert(tenant_a, drive(start_t=0, seconds=120, kmh=0, start_east_m=50))
    assert evaluate(tenant_a, status_event(tenant_a, OrderStatus.DELIVERED, at(60))) == 0


def test_failed_without_a_visit(tenant_a: Tenant) -> None:
    rule_create(
        tenant_a, "failed_without_visit", params={"distance_m": 200, "lookback_minutes": 30}
    )
    positions_insert(tenant_a, drive(start_t=0, seconds=600, kmh=20, north_m=3000))
    assert evaluate(tenant_a, status_event(tenant_a, OrderStatus.FAILED, at(600))) == 1
    assert alerts_of(tenant_a)[0].details["closest_m"] > 2500
