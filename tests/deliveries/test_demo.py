from __future__ import annotations

import pytest
from django_scopes import scope

from deliveries.demo import demo_orders_seed
from deliveries.models import DeliveryEvent, FailureReason, Order
from tests.factories import HubFactory

pytestmark = pytest.mark.django_db


def test_demo_orders_seed_creates_orders_with_timelines_once() -> None:
    hub = HubFactory.create()
    organization = hub.organization
    HubFactory.create(organization=organization)
    assert demo_orders_seed(organization) == 40
    assert demo_orders_seed(organization) == 0  # running again adds nothing
    with scope(organization=organization.pk):
        assert Order.objects.count() == 40
        assert FailureReason.objects.count() >= 5
        statuses = set(Order.objects.values_list("status", flat=True))
        assert len(statuses) >= 4
        assert Order.objects.filter(latitude__isnull=True).count() == 4
        assert DeliveryEvent.objects.count() > 40
        assert not Order.objects.filter(events__isnull=True).exists()
