"""The beat sweep against the real database: time-based kinds open and auto-resolve, minimum
duration, escalation, disabled rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts.evaluation.scheduled import organization_sweep
from alerts.models import Alert
from deliveries.models import Order, OrderStatus, Route, Stop
from fleet.models import VehicleState
from tenancy.context import tenant_context
from tests.alerts.support import alerts_of, outbox_kinds, rule_create, timeline
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def sweep(tenant: Tenant, now: dt.datetime) -> dict[str, int]:
    with tenant_context(tenant.organization.pk):
        return organization_sweep(organization_id=tenant.organization.pk, now=now)


def last_fix(tenant: Tenant, when: dt.datetime) -> None:
    with scopes_disabled():
        VehicleState.objects.update_or_create(
            vehicle=tenant.vehicle,
            defaults={"organization": tenant.organization, "fix_time": when, "server_time": when,
                      "latitude": 52.37, "longitude": 4.89},
        )  # fmt: skip


def test_offline_opens_after_threshold_plus_min_duration_and_resolves_on_a_fix(
    tenant_a: Tenant,
) -> None:
    now = timezone.now()
    rule_create(tenant_a, "vehicle_offline", params={"minutes": 10}, min_duration_seconds=120)
    last_fix(tenant_a, now - dt.timedelta(minutes=11))  # offline 1 min: under the min duration
    sweep(tenant_a, now)
    assert alerts_of(tenant_a) == []
    sweep(tenant_a, now + dt.timedelta(minutes=2))
    (alert,) = alerts_of(tenant_a)
    assert alert.status == Alert.Status.OPEN and alert.details["minutes"] == 13
    sweep(tenant_a, now + dt.timedelta(minutes=3))  # still offline: still one alert
    assert len(alerts_of(tenant_a)) == 1
    last_fix(tenant_a, now + dt.timedelta(minutes=4))
    sweep(tenant_a, now + dt.timedelta(minutes=4))
    (alert,) = alerts_of(tenant_a)
    assert alert.status == Alert.Status.RESOLVED and alert.resolution == "cleared"
    assert (
        outbox_kinds(tenant_a)[0] == "alert.opened"
        and outbox_kinds(tenant_a)[-1] == "alert.resolved"
    )


def test_offline_flapping_under_the_min_duration_never_alerts(tenant_a: Tenant) -> None:
    now = timezone.now()
    rule_create(tenant_a, "vehicle_offline", params={"minutes": 5}, min_duration_seconds=180)
    for minute in range(0, 60, 7):  # a fix every 7 minutes: offline for 2 of each 7
        last_fix(tenant_a, now + dt.timedelta(minutes=minute))
        for step in range(0, 7):
            sweep(tenant_a, now + dt.timedelta(minutes=minute + step, seconds=30))
    assert alerts_of(tenant_a) == []


def test_late_opens_when_the_window_passed_and_resolves_on_delivery(tenant_a: Tenant) -> None:
    now = timezone.now()
    order = tenant_a.order
    assert order is not None
    with scopes_disabled():
        Order.objects.filter(pk=order.pk).update(
            status=OrderStatus.OUT_FOR_DELIVERY, window_start=now - dt.timedelta(hours=2),
            window_end=now - dt.timedelta(minutes=5),
        )  # fmt: skip
    rule_create(tenant_a, "late")
    sweep(tenant_a, now)
    (alert,) = alerts_of(tenant_a)
    assert alert.subject_type == "order" and alert.order_id == order.pk
    with scopes_disabled():
        Order.objects.filter(pk=order.pk).update(status=OrderStatus.DELIVERED)
    sweep(tenant_a, now + dt.timedelta(seconds=30))
    assert alerts_of(tenant_a)[0].status == Alert.Status.RESOLVED


def test_late_risk_from_the_stop_eta(tenant_a: Tenant) -> None:
    now = timezone.now()
    order = tenant_a.order
    assert order is not None
    with scopes_disabled():
        Order.objects.filter(pk=order.pk).update(
            status=OrderStatus.OUT_FOR_DELIVERY, window_start=now,
            window_end=now + dt.timedelta(minutes=30),
        )  # fmt: skip
        Route.objects.filter(organization=tenant_a.organization).update(
            status=Route.Status.IN_PROGRESS
        )
        Stop.objects.filter(order=order).update(eta=now + dt.timedelta(minutes=45))
    rule_create(tenant_a, "late_risk", params={"minutes_past_window": 10})
    sweep(tenant_a, now)
    (alert,) = alerts_of(tenant_a)
    assert alert.details["minutes_late"] == 15 and alert.route_id is not None
    with scopes_disabled():
        Stop.objects.filter(order=order).update(eta=now + dt.timedelta(minutes=20))
    sweep(tenant_a, now + dt.timedelta(minutes=1))
    assert alerts_of(tenant_a)[0].status == Alert.Status.RESOLVED


def test_escalation_once_after_the_rules_minutes_unless_acknowledged(tenant_a: Tenant) -> None:
    now = timezone.now()
    rule_create(tenant_a, "vehicle_offline", params={"minutes": 5}, escalate_after_minutes=30)
    last_fix(tenant_a, now - dt.timedelta(hours=2))
    sweep(tenant_a, now)
    assert sweep(tenant_a, now + dt.timedelta(minutes=29))["escalated"] == 0
    assert sweep(tenant_a, now + dt.timedelta(minutes=31))["escalated"] == 1
    assert sweep(tenant_a, now + dt.timedelta(minutes=40))["escalated"] == 0
    (alert,) = alerts_of(tenant_a)
    assert alert.escalated_at == now + dt.timedelta(minutes=31)
    assert "escalated" in timeline(alert)
    assert "alert.escalated" in outbox_kinds(tenant_a)


def test_an_acknowledged_alert_does_not_escalate(tenant_a: Tenant) -> None:
    now = timezone.now()
    rule_create(tenant_a, "vehicle_offline", params={"minutes": 5}, escalate_after_minutes=30)
    last_fix(tenant_a, now - dt.timedelta(hours=2))
    sweep(tenant_a, now)
    with scopes_disabled():
        Alert.objects.update(status=Alert.Status.ACKNOWLEDGED, acknowledged_at=now)
    assert sweep(tenant_a, now + dt.timedelta(hours=1))["escalated"] == 0


def test_disabling_a_rule_resolves_its_alerts(tenant_a: Tenant) -> None:
    now = timezone.now()
    rule = rule_create(tenant_a, "vehicle_offline", params={"minutes": 5})
    last_fix(tenant_a, now - dt.timedelta(hours=2))
    sweep(tenant_a, now)
    with scopes_disabled():
        rule.enabled = False
        rule.save()
    sweep(tenant_a, now + dt.timedelta(seconds=15))
    (alert,) = alerts_of(tenant_a)
    assert alert.status == Alert.Status.RESOLVED and alert.resolution == "rule_disabled"


def test_the_sweep_sees_only_its_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    now = timezone.now()
    rule_create(tenant_a, "vehicle_offline", params={"minutes": 5})
    last_fix(tenant_b, now - dt.timedelta(hours=2))
    sweep(tenant_a, now)
    assert alerts_of(tenant_a) == [] and alerts_of(tenant_b) == []
