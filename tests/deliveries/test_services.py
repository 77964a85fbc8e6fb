"""Order services against real PostgreSQL: creation, every transition, the append-only
timeline, tenancy, and two concurrent identical transitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django_scopes import scope, scopes_disabled

from deliveries.models import DeliveryEvent, Order
from deliveries.models import OrderStatus as S
from deliveries.models.events import AppendOnlyError
from deliveries.services.orders import InvalidTransition, order_create, order_transition
from tenancy.context import tenant_context
from tests.conftest import Tenant
from tests.deliveries.builders import order_build
from tests.deliveries.test_transitions import ALLOWED, MATRIX, reason_for
from tests.factories import HubFactory
from tests.support.at_once import at_once

pytestmark = pytest.mark.django_db

SOURCE = DeliveryEvent.Source.CONSOLE


def events_of(order: Order) -> list[tuple[str, str]]:
    with scopes_disabled():
        return list(
            DeliveryEvent.objects.filter(order=order).values_list("from_status", "to_status")
        )


def test_order_create_generates_tracking_code_and_created_event(tenant_a: Tenant) -> None:
    user = tenant_a.users["support"]
    order = order_build(tenant_a.organization, tenant_a.hub, reference="NEW-1", actor=user)
    other = order_build(tenant_a.organization, tenant_a.hub, reference="NEW-2")
    assert order.status == S.CREATED
    assert len(order.tracking_code) >= 20 and order.tracking_code != other.tracking_code
    assert events_of(order) == [("", S.CREATED)]
    with scopes_disabled():
        event = DeliveryEvent.objects.get(order=order)
    assert event.actor == user and event.organization_id == tenant_a.organization.pk


def test_order_create_without_coordinates_needs_coordinates(tenant_a: Tenant) -> None:
    order = order_build(
        tenant_a.organization, tenant_a.hub, reference="NOGEO", latitude=None, longitude=None
    )
    assert order.needs_coordinates


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"reference": "ALPHAORDER-0001"}, "reference"),  # duplicate within the organization
        ({"reference": ""}, "reference"),
        ({"customer_name": ""}, "customer_name"),
        ({"latitude": 91.0}, "latitude"),
        ({"latitude": 52.0, "longitude": None}, "latitude"),
        ({"email": "not-an-email"}, "email"),
        ({"window_start": dt.datetime(2030, 1, 1, 10)}, "window_start"),  # naive
        (
            {
                "window_start": dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC),
                "window_end": dt.datetime(2030, 1, 1, 10, tzinfo=dt.UTC),
            },
            "window_end",
        ),
    ],
)
def test_order_create_validates(tenant_a: Tenant, fields: dict[str, Any], error_field: str) -> None:
    with pytest.raises(ValidationError) as info:
        order_build(tenant_a.organization, tenant_a.hub, **{"reference": "X-1", **fields})
    assert error_field in info.value.message_dict


def test_same_reference_in_two_organizations_is_fine(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_a.order is not None
    order = order_build(tenant_b.organization, tenant_b.hub, reference=tenant_a.order.reference)
    assert order.organization_id == tenant_b.organization.pk


def test_order_create_refuses_a_foreign_hub(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with pytest.raises(ValidationError) as info, tenant_context(tenant_a.organization.pk):
        order_create(
            organization_id=tenant_a.organization.pk,
            hub_id=tenant_b.hub.pk,
            reference="X",
            customer_name="Y",
            address="Z",
        )
    assert "hub" in info.value.message_dict


def put_in_status(order: Order, status: str) -> None:
    with scopes_disabled():
        Order.objects.filter(pk=order.pk).update(status=status)


@pytest.mark.parametrize(("from_status", "to_status"), MATRIX)
def test_every_transition_through_the_service(
    tenant_a: Tenant, from_status: str, to_status: str
) -> None:
    order = tenant_a.order
    assert order is not None
    put_in_status(order, from_status)
    kwargs: dict[str, Any] = {
        "organization_id": tenant_a.organization.pk,
        "order_id": order.pk,
        "to_status": to_status,
        "actor": tenant_a.users["dispatcher"],
        "source": SOURCE,
        "reason_code": reason_for(to_status),
    }
    if (from_status, to_status) in ALLOWED:
        with tenant_context(tenant_a.organization):
            result = order_transition(**kwargs, latitude=52.1, longitude=4.2, note="ok")
        assert result.status == to_status
        assert events_of(order)[-1] == (from_status, to_status)
        with scopes_disabled():
            event = DeliveryEvent.objects.filter(order=order).last()
        assert event is not None and (event.latitude, event.longitude) == (52.1, 4.2)
        if to_status == S.FAILED:
            assert event.failure_reason is not None and event.failure_reason.code == "not_home"
    else:
        with pytest.raises(InvalidTransition), tenant_context(tenant_a.organization):
            order_transition(**kwargs)
        with scopes_disabled():
            assert Order.objects.get(pk=order.pk).status == from_status
        assert events_of(order) == [("", S.CREATED)]


def test_full_journey_with_reattempt(tenant_a: Tenant) -> None:
    order = tenant_a.order
    assert order is not None
    path = [
        S.ASSIGNED,
        S.OUT_FOR_DELIVERY,
        S.ARRIVED,
        S.FAILED,
        S.ASSIGNED,
        S.OUT_FOR_DELIVERY,
        S.ARRIVED,
        S.DELIVERED,
    ]
    for to_status in path:
        with tenant_context(tenant_a.organization.pk):
            order_transition(
                organization_id=tenant_a.organization.pk,
                order_id=order.pk,
                to_status=to_status,
                actor=None,
                source=DeliveryEvent.Source.DRIVER,
                reason_code="refused" if to_status == S.FAILED else None,
            )
    assert [to for _, to in events_of(order)] == [S.CREATED, *path]


def test_failed_needs_a_reason_of_this_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    order = order_build(tenant_a.organization, tenant_a.hub, reference="R-1")
    put_in_status(order, S.ARRIVED)
    with scopes_disabled():
        from deliveries.models import FailureReason

        FailureReason.objects.create(organization=tenant_b.organization, code="b_only", label="B")
    for reason in (None, "b_only", "nonsense"):
        with pytest.raises(InvalidTransition), tenant_context(tenant_a.organization.pk):
            order_transition(
                organization_id=tenant_a.organization.pk,
                order_id=order.pk,
                to_status=S.FAILED,
                actor=None,
                source=SOURCE,
                reason_code=reason,
            )


def test_transition_of_a_foreign_order_is_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_b.order is not None
    with pytest.raises(Order.DoesNotExist), tenant_context(tenant_a.organization.pk):
        order_transition(
            organization_id=tenant_a.organization.pk,
            order_id=tenant_b.order.pk,
            to_status=S.ASSIGNED,
            actor=None,
            source=SOURCE,
        )
    assert events_of(tenant_b.order) == [("", S.CREATED)]


def test_transition_validates_position(tenant_a: Tenant) -> None:
    assert tenant_a.order is not None
    with pytest.raises(ValidationError), tenant_context(tenant_a.organization.pk):
        order_transition(
            organization_id=tenant_a.organization.pk,
            order_id=tenant_a.order.pk,
            to_status=S.ASSIGNED,
            actor=None,
            source=SOURCE,
            latitude=120.0,
            longitude=4.0,
        )


def test_the_timeline_is_append_only(tenant_a: Tenant) -> None:
    with scope(organization=tenant_a.organization.pk):
        event = DeliveryEvent.objects.get(order=tenant_a.order)
        event.note = "rewritten"
        with pytest.raises(AppendOnlyError):
            event.save()
        with pytest.raises(AppendOnlyError):
            event.delete()
        assert DeliveryEvent.objects.get(pk=event.pk).note == ""


def test_unscoped_order_query_raises() -> None:
    from django_scopes.exceptions import ScopeError

    with pytest.raises(ScopeError):
        list(Order.objects.all())


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_transition_is_applied_once() -> None:
    organization_hub = HubFactory.create()
    order = order_build(organization_hub.organization, organization_hub, reference="RACE-1")

    def attempt() -> str:
        try:
            with tenant_context(organization_hub.organization_id):
                order_transition(
                    organization_id=organization_hub.organization_id,
                    order_id=order.pk,
                    to_status=S.ASSIGNED,
                    actor=None,
                    source=SOURCE,
                )
        except InvalidTransition:
            return "refused"
        return "applied"

    outcomes = at_once(attempt, times=2, timeout=10)
    assert sorted(outcomes) == ["applied", "refused"]
    assert events_of(order) == [("", S.CREATED), (S.CREATED, S.ASSIGNED)]


def test_the_database_refuses_timeline_updates(tenant_a: Tenant) -> None:
    from django.db import IntegrityError, transaction

    with scope(organization=tenant_a.organization.pk):
        events = DeliveryEvent.objects.filter(order=tenant_a.order)
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            events.update(note="rewritten")
        assert events.get().note == ""


def test_deleting_the_actor_keeps_the_event(tenant_a: Tenant) -> None:
    user = tenant_a.users["dispatcher"]
    assert tenant_a.order is not None
    with tenant_context(tenant_a.organization.pk):
        order_transition(
            organization_id=tenant_a.organization.pk,
            order_id=tenant_a.order.pk,
            to_status=S.ASSIGNED,
            actor=user,
            source=SOURCE,
        )
    user.delete()
    with scopes_disabled():
        event = DeliveryEvent.objects.get(order=tenant_a.order, to_status=S.ASSIGNED)
    assert event.actor_id is None
