"""Late fixes and corrected orders mark their day; the sweep recomputes it from raw data."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from deliveries.models import DeliveryEvent, FailureReason, Route, Stop
from reporting.dirty import dirty_days_recompute
from reporting.models import (
    DailyFailureReasonCount,
    DailyRouteRollup,
    DailyVehicleRollup,
    RollupDirtyMark,
)
from reporting.rollups import rollups_recompute_day
from reporting.subscribers import rollups_event_handle
from reporting.trips import Fix
from tenancy.context import tenant_context
from tenancy.outbox.models import OutboxEvent
from tests.conftest import Tenant
from tests.reporting.positions import positions_insert

AMS = zoneinfo.ZoneInfo("Europe/Amsterdam")


def _days_ago(n: int) -> dt.date:
    return timezone.now().astimezone(AMS).date() - dt.timedelta(days=n)


def _fixes(day: dt.date, hour: int, count: int) -> list[Fix]:
    start = dt.datetime.combine(day, dt.time(hour), tzinfo=AMS).timestamp()
    return [Fix(start + 30 * i, 52.37, 4.89 + 0.0005 * i, 40.0) for i in range(count)]


def _flushed(tenant: Tenant, first: dt.datetime, last: dt.datetime) -> OutboxEvent:
    return OutboxEvent(
        organization=tenant.organization,
        kind="positions.flushed",
        aggregate="organization",
        aggregate_id=tenant.organization.pk,
        payload={
            "vehicle_ids": [tenant.vehicle.pk],
            "fix_count": 1,
            "first_fix_at": first.isoformat(),
            "last_fix_at": last.isoformat(),
        },
    )


@pytest.mark.django_db
def test_a_late_fix_marks_its_day_and_the_sweep_recomputes_it(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    org.timezone = "Europe/Amsterdam"
    org.save(update_fields=["timezone"])
    day = _days_ago(3)
    positions_insert(tenant_a.device, _fixes(day, 9, 20))
    with tenant_context(org):
        rollups_recompute_day(organization_id=org.pk, day=day)
        before = DailyVehicleRollup.objects.get(vehicle=tenant_a.vehicle, day=day).fixes
    late = _fixes(day, 15, 10)  # uploaded from the device's buffer days later
    positions_insert(tenant_a.device, late)
    with tenant_context(org):
        first = dt.datetime.fromtimestamp(late[0].timestamp, dt.UTC)
        last = dt.datetime.fromtimestamp(late[-1].timestamp, dt.UTC)
        rollups_event_handle(_flushed(tenant_a, first, last))
        marks = list(RollupDirtyMark.objects.values_list("kind", "subject_id", "day"))
        assert marks == [("vehicle", tenant_a.vehicle.pk, day)]
        # Fixes of today mark nothing: today is computed live.
        now = timezone.now()
        rollups_event_handle(_flushed(tenant_a, now, now))
        assert RollupDirtyMark.objects.count() == 1
        assert dirty_days_recompute(organization_id=org.pk) == [day]
        after = DailyVehicleRollup.objects.get(vehicle=tenant_a.vehicle, day=day).fixes
        assert (before, after) == (20, 30)
        assert not RollupDirtyMark.objects.exists()


@pytest.mark.django_db
def test_a_corrected_order_marks_its_route_day(tenant_a: Tenant) -> None:
    org = tenant_a.organization
    assert tenant_a.order is not None
    day = _days_ago(2)
    with tenant_context(org):
        route = Route.objects.create(organization=org, hub=tenant_a.hub, date=day)
        Stop.objects.create(organization=org, route=route, sequence=1, order=tenant_a.order)
        event = OutboxEvent(
            organization=org,
            kind="order.status_changed",
            aggregate="order",
            aggregate_id=tenant_a.order.pk,
            payload={},
        )
        rollups_event_handle(event)
        assert list(RollupDirtyMark.objects.values_list("kind", "subject_id", "day")) == [
            ("route", route.pk, day)
        ]
        dirty_days_recompute(organization_id=org.pk)
        assert DailyRouteRollup.objects.filter(route=route, day=day).exists()


@pytest.mark.django_db
def test_a_corrected_order_moves_into_the_hub_day_failure_counts_after_the_sweep(
    tenant_a: Tenant,
) -> None:
    """The day was rolled up with the order delivered; a correction (failed, not at home, at
    17:00 the same day) marks the route day, and the sweep rebuilds the hub-day counts."""
    org, order = tenant_a.organization, tenant_a.order
    assert order is not None
    org.timezone = "Europe/Amsterdam"
    org.save(update_fields=["timezone"])
    day = _days_ago(2)
    at = dt.datetime.combine(day, dt.time(11), tzinfo=AMS)
    with tenant_context(org):
        not_home = FailureReason.objects.get(code="not_home")

    def outcome(status: str, when: dt.datetime, **extra: object) -> None:
        DeliveryEvent.objects.create(
            organization=org, order=order, from_status="arrived", to_status=status, at=when,
            source="system", **extra,
        )  # fmt: skip

    with tenant_context(org):
        route = Route.objects.create(organization=org, hub=tenant_a.hub, date=day)
        Stop.objects.create(
            organization=org, route=route, sequence=1, order=order, actual_arrival=at,
            actual_departure=at + dt.timedelta(minutes=5),
        )  # fmt: skip
        outcome("delivered", at + dt.timedelta(minutes=4))
        rollups_recompute_day(organization_id=org.pk, day=day)
        assert not DailyFailureReasonCount.objects.exists()
        outcome("failed", at + dt.timedelta(hours=6), failure_reason=not_home)
        rollups_event_handle(
            OutboxEvent(
                organization=org, kind="order.status_changed", aggregate="order",
                aggregate_id=order.pk, payload={},
            )
        )  # fmt: skip
        assert RollupDirtyMark.objects.filter(kind="route", subject_id=route.pk).exists()
        assert dirty_days_recompute(organization_id=org.pk) == [day]
        counts = DailyFailureReasonCount.objects.values_list(
            "day", "hub_id", "reason_code", "failures"
        )
        assert list(counts) == [(day, tenant_a.hub.pk, "not_home", 1)]


@pytest.mark.django_db
def test_admin_action_recomputes_the_selected_days(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from tenancy.models import Role
    from tests.conftest import login

    org = tenant_a.organization
    day = _days_ago(4)
    positions_insert(tenant_a.device, _fixes(day, 9, 12))
    with tenant_context(org):
        row = DailyVehicleRollup.objects.create(
            organization=org, vehicle=tenant_a.vehicle, day=day, fixes=1, computed_at=timezone.now()
        )
    client = login(tenant_a.users[Role.ADMIN])
    url = "/admin/reporting/dailyvehiclerollup/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"action": "recompute_days", "_selected_action": [row.pk]})
    assert response.status_code == 302
    with tenant_context(org):
        assert DailyVehicleRollup.objects.get(vehicle=tenant_a.vehicle, day=day).fixes == 12
