"""The hand-written answer of one order (deliveries/api/views.py order_output) is exactly what
OrderOutputSerializer's field-by-field walk gives, for every kind of order."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from deliveries.api.serializers import OrderOutputSerializer
from deliveries.api.views import order_output
from deliveries.models import Order
from deliveries.selectors.orders import order_get
from tenancy.context import tenant_context
from tests.conftest import Tenant
from tests.deliveries.builders import order_advance, order_build


def by_drf(order: Order) -> dict[str, Any]:
    serializer = OrderOutputSerializer()
    data: dict[str, Any] = serializers.ModelSerializer.to_representation(serializer, order)
    return data


def assert_same(order: Order) -> None:
    ours, drf = order_output(order), by_drf(order)
    assert list(ours.items()) == list(drf.items())  # same keys, same order, same values
    assert [type(value) for value in ours.values()] == [type(value) for value in drf.values()]
    assert JSONRenderer().render(ours) == JSONRenderer().render(drf)
    assert json.loads(JSONRenderer().render(ours)) == drf


def orders_of_every_kind(tenant: Tenant) -> list[Order]:
    organization, hub = tenant.organization, tenant.hub
    plain = order_build(organization, hub, reference="OUT-1")
    no_coordinates = order_build(
        organization, hub, reference="OUT-2", latitude=None, longitude=None, window_start=None,
        window_end=None, email="someone@example.com", notes="Leave at the door ✓",
        priority=Order.Priority.choices[-1][0], weight_kg=12.5, volume_l=3, service_minutes=0,
    )  # fmt: skip
    advanced = order_build(organization, hub, reference="OUT-3", phone="")
    order_advance(advanced, "assigned", "out_for_delivery")
    return [plain, no_coordinates, advanced]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Amsterdam"])
def test_the_answer_is_the_serializers_byte_for_byte(tenant_a: Tenant, zone: str) -> None:
    built = orders_of_every_kind(tenant_a)
    organization_id = tenant_a.organization.pk
    with tenant_context(organization_id), timezone.override(zone):
        for order in built:
            assert_same(order)  # as the service returned it (choices as enums, microseconds)
            assert_same(order_get(organization_id=organization_id, order_id=order.pk))
        read = order_get(organization_id=organization_id, order_id=built[1].pk)
        read.window_start = timezone.now() - dt.timedelta(days=400)
        assert_same(read)
