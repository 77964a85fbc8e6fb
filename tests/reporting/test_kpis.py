"""Each KPI on a day whose answers are worked out by hand below (in the comments and the
literals), not by the code under test. The day is Sunday 29 March 2026 in Amsterdam: the
clocks go from 02:00 to 03:00, so the local day has 23 hours (22:00 UTC the evening before is
not in it; 22:00 UTC that evening is already the 30th)."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert
from deliveries.models import DeliveryEvent, FailureReason, Order, Route, Stop
from reporting.kpis.filters import KpiFilters
from reporting.kpis.summary import kpi_breakdown, kpi_summary
from reporting.models import (
    DailyEtaErrorHistogram,
    DailyFailureReasonCount,
    DailyRouteRollup,
    DailyVehicleRollup,
)
from reporting.rollups import rollups_recompute_day
from reporting.route_rollups import eta_errors
from reporting.trips import Fix
from tenancy.context import tenant_context
from tenancy.outbox.models import OutboxEvent
from tests.alerts.factories import alert_open
from tests.conftest import Tenant
from tests.deliveries.builders import failure_reasons_create
from tests.reporting.positions import positions_insert

AMS = zoneinfo.ZoneInfo("Europe/Amsterdam")
DAY = dt.date(2026, 3, 29)  # DST starts in Europe at 02:00 local


def local(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=AMS)


def _order(tenant: Tenant, ref: str, window: tuple[dt.datetime, dt.datetime] | None) -> Order:
    return Order.objects.create(
        organization=tenant.organization,
        hub=tenant.hub,
        reference=ref,
        tracking_code=f"TRK{ref}",
        customer_name="C",
        address="1 Road",
        latitude=tenant.hub.latitude + 0.01,
        longitude=tenant.hub.longitude + 0.01,
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        status="delivered",
    )


def _event(
    tenant: Tenant, order: Order, status: str, at: dt.datetime, reason: FailureReason | None = None
) -> None:
    DeliveryEvent.objects.create(
        organization=tenant.organization,
        order=order,
        from_status="arrived",
        to_status=status,
        at=at,
        source="system",
        failure_reason=reason,
    )


def _track(tenant: Tenant) -> None:
    """09:50 to 10:00: 60 steps of 100 m east, 10 s apart (36 km/h; five fixes say 100 km/h:
    one speeding episode); then parked at the end until 14:10. Distance 6.0 km, shift
    09:50 -> 14:10 = 4 h 20 min = 15,600 s."""
    lat, lon0 = tenant.hub.latitude, tenant.hub.longitude
    step = 100 / (111_195 * math.cos(math.radians(lat)))  # 100 m in degrees of longitude
    start = local(9, 50).timestamp()
    fixes = [
        Fix(start + 10 * i, lat, lon0 + step * i, 100.0 if 30 <= i < 35 else 36.0)
        for i in range(61)
    ]
    end_lon = lon0 + step * 60
    fixes += [Fix(start + 600 + 60 * i, lat, end_lon, 0.0) for i in range(1, 251)]
    positions_insert(tenant.device, fixes)


def _day_build(tenant: Tenant) -> Route:
    org = tenant.organization
    org.timezone = "Europe/Amsterdam"
    org.save(update_fields=["timezone"])
    with tenant_context(org):
        reasons = {r.code: r for r in FailureReason.objects.filter(organization=org)}
        if not reasons:
            reasons = {r.code: r for r in failure_reasons_create(org)}
        route = Route.objects.create(
            organization=org,
            hub=tenant.hub,
            date=DAY,
            vehicle=tenant.vehicle,
            driver=tenant.driver,
            status="completed",
            dispatched_at=local(8),
        )
        o1 = _order(tenant, "O1", (local(9), local(11)))
        o2 = _order(tenant, "O2", (local(11), local(12)))
        o3 = _order(tenant, "O3", (local(13), local(14)))
        o4 = _order(tenant, "O4", None)
        # (order, planned arrival, arrived, departed)
        visits = [
            (o1, local(9, 55), local(10), local(10, 5)),  # dwell 300 s
            (o2, None, local(12), local(12, 10)),  # dwell 600 s
            (o3, None, local(13, 30), local(13, 32)),  # dwell 120 s
            (o4, None, local(14), local(14, 4)),  # dwell 240 s
        ]
        for sequence, (order, planned, arrived, departed) in enumerate(visits, 1):
            Stop.objects.create(
                organization=org,
                route=route,
                sequence=sequence,
                order=order,
                planned_arrival=planned,
                actual_arrival=arrived,
                actual_departure=departed,
            )
        _event(tenant, o1, "delivered", local(10, 4))  # inside 09:00-11:00: on time
        _event(tenant, o2, "delivered", local(12, 1))  # one minute after 12:00: late
        _event(tenant, o3, "failed", local(13, 31), reasons["not_home"])
        # O4 failed the day before: today's delivery is not a first attempt.
        _event(tenant, o4, "failed", local(15, 0, DAY - dt.timedelta(days=1)), reasons["refused"])
        _event(tenant, o4, "delivered", local(14, 3))
        # O1's ETA moved at 09:20 to 10:03 (planned 09:55, made at dispatch 08:00).
        OutboxEvent.objects.create(
            organization=org,
            kind="order.eta_changed",
            aggregate="order",
            aggregate_id=o1.pk,
            payload={"order": {"id": o1.pk, "eta": local(10, 3).isoformat()}},
            occurred_at=local(9, 20),
            relayed_at=timezone.now(),
        )
    _track(tenant)
    # Alerts: 00:30 local on the 29th is 22:30 UTC on the 28th and counts; 00:30 local on the
    # 30th does not. The one that counts was acknowledged after 120 s and resolved after 600 s.
    counted = alert_open(org.pk, vehicle_id=tenant.vehicle.pk, opened_at=local(0, 30), emit=False)
    later = local(0, 30, DAY + dt.timedelta(days=1))
    alert_open(org.pk, vehicle_id=tenant.vehicle.pk, opened_at=later, emit=False)
    with tenant_context(org):
        Alert.objects.filter(pk=counted.pk).update(
            acknowledged_at=local(0, 32), resolved_at=local(0, 40), status="resolved"
        )
    return route


@pytest.mark.django_db
def test_each_kpi_on_a_hand_computed_dst_day(tenant_a: Tenant) -> None:
    route = _day_build(tenant_a)
    org = tenant_a.organization
    with tenant_context(org):
        assert rollups_recompute_day(organization_id=org.pk, day=DAY) == 1
        row = DailyRouteRollup.objects.get(route=route)
        assert row.eta_errors == {"10": {"3": 1}, "30": {"3": 1}, "60": {"-5": 1}}
        assert row.failures_by_reason == {
            "not_home": 1
        }  # the day's last outcome of O4 is delivered
        vehicle_day = DailyVehicleRollup.objects.get(vehicle=tenant_a.vehicle, day=DAY)
        assert vehicle_day.driver_id == tenant_a.driver.pk
        summary = kpi_summary(organization_id=org.pk, filters=KpiFilters(start=DAY, end=DAY))
    f = summary.figures
    assert f.deliveries.value == 3  # O1, O2, O4
    assert f.failures.value == 1  # O3
    assert f.on_time_rate.value == pytest.approx(1 / 2)  # O1 of O1, O2 (O4 has no window)
    # First attempts: O1, O2, O3 (O4 failed the day before); successes: O1, O2.
    assert f.first_attempt_success_rate.value == pytest.approx(2 / 3)
    assert f.average_dwell_seconds.value == pytest.approx((300 + 600 + 120 + 240) / 4)
    on_route = 4 * 3600 + 4 * 60  # 10:00 -> 14:04
    assert f.stops_per_hour.value == pytest.approx(4 / (on_route / 3600))
    assert f.distance_km.value == pytest.approx(6.0, rel=0.01)
    assert f.utilization.value == pytest.approx(on_route / 15_600)
    assert f.speeding_per_100_km.value == pytest.approx(100 / 6.0, rel=0.01)
    assert f.alerts.value == 1
    assert f.average_acknowledge_seconds.value == pytest.approx(120)
    assert f.average_resolve_seconds.value == pytest.approx(600)
    # Cost: 6 km x 0.35 + 4 h 20 min x 25 + idle (parked with speed 0 counts as stopped, so
    # no idle fuel) = 2.10 + 108.33 = 110.43; per delivery / 3.
    org.refresh_from_db()
    assert org.vehicle_cost_per_km == Decimal("0.350") and org.driver_cost_per_hour == 25
    assert f.cost.value == pytest.approx(6.0 * 0.35 + 15_600 / 3600 * 25, rel=0.01)
    assert f.cost.value is not None
    assert f.cost_per_delivery.value == pytest.approx(f.cost.value / 3)
    assert [(r.code, r.failures) for r in summary.failures_by_reason] == [("not_home", 1)]
    at_60 = next(e for e in summary.eta_accuracy if e.horizon_minutes == 60)
    assert at_60.predictions == 1 and at_60.mean_error_minutes == pytest.approx(-5)
    with tenant_context(org):
        drivers = kpi_breakdown(
            organization_id=org.pk, filters=KpiFilters(start=DAY, end=DAY), by="driver"
        )
    assert [(r.key, r.figures.deliveries.value) for r in drivers] == [(str(tenant_a.driver.pk), 3)]


@pytest.mark.django_db
def test_recompute_is_idempotent_and_a_day_elsewhere_is_empty(tenant_a: Tenant) -> None:
    route = _day_build(tenant_a)
    org = tenant_a.organization
    with tenant_context(org):
        rollups_recompute_day(organization_id=org.pk, day=DAY)
        first = DailyRouteRollup.objects.values().get(route=route)
        rollups_recompute_day(organization_id=org.pk, day=DAY)
        again = DailyRouteRollup.objects.values().get(route=route)
        assert {k: v for k, v in first.items() if k != "computed_at"} == {
            k: v for k, v in again.items() if k != "computed_at"
        }
        assert DailyRouteRollup.objects.filter(day=DAY).count() == 1
        next_day = KpiFilters(start=DAY + dt.timedelta(days=1), end=DAY + dt.timedelta(days=1))
        assert kpi_summary(organization_id=org.pk, filters=next_day).figures.deliveries.value == 0


def _bins(organization_id: int) -> tuple[set[tuple], set[tuple]]:
    """(day, hub, zones, horizon, minutes, arrivals) of every non-empty ETA-error bin, and
    (day, hub, zones, reason, failures) of every failure-reason count."""
    eta = set()
    for row in DailyEtaErrorHistogram.objects.filter(organization_id=organization_id).values():
        place = (row["day"], row["hub_id"], tuple(row["zone_ids"]), row["horizon_minutes"])
        for name, value in row.items():
            if name.startswith("error_") and value:
                minutes = int(name.rsplit("_", 1)[1]) * (-1 if "_minus_" in name else 1)
                eta.add((*place, minutes, value))
    reasons = DailyFailureReasonCount.objects.filter(organization_id=organization_id)
    return (
        eta,
        {(d, h, tuple(z), c, n) for d, h, z, c, n in reasons.values_list(
            "day", "hub_id", "zone_ids", "reason_code", "failures"
        )},
    )  # fmt: skip


@pytest.mark.django_db
def test_the_hub_day_bins_hold_the_hand_computed_day_and_a_recompute_leaves_them_alone(
    tenant_a: Tenant,
) -> None:
    """The rollup pass writes the day's ETA-error bins and failure-reason counts (one route of
    the tenant's hub, no zones): O1's ETA 5 min early at 60 min, 3 min late at 30 and 10;
    O3 not at home. Recomputing replaces them with the same rows, never adds to them."""
    _day_build(tenant_a)
    org, hub = tenant_a.organization, tenant_a.hub.pk
    with tenant_context(org):
        rollups_recompute_day(organization_id=org.pk, day=DAY)
        first = _bins(org.pk)
        rollups_recompute_day(organization_id=org.pk, day=DAY)
        assert _bins(org.pk) == first
        rows = DailyEtaErrorHistogram.objects.filter(organization=org).count()
    eta, reasons = first
    assert eta == {(DAY, hub, (), 60, -5, 1), (DAY, hub, (), 30, 3, 1), (DAY, hub, (), 10, 3, 1)}
    assert rows == 3  # one per horizon
    assert reasons == {(DAY, hub, (), "not_home", 1)}


@pytest.mark.django_db
def test_a_summary_reads_the_same_histograms_from_bins_and_from_route_rows(
    tenant_a: Tenant,
) -> None:
    """Unfiltered and hub-filtered summaries read the hub-day bins; a vehicle or driver filter
    reads the route rows' JSON: both give the hand-computed answer, and another hub nothing."""
    _day_build(tenant_a)
    org = tenant_a.organization
    day = KpiFilters(start=DAY, end=DAY)
    slices = {
        "all": day,
        "hub": KpiFilters(start=DAY, end=DAY, hub_ids=(tenant_a.hub.pk,)),
        "vehicle": KpiFilters(start=DAY, end=DAY, vehicle_ids=(tenant_a.vehicle.pk,)),
        "driver": KpiFilters(start=DAY, end=DAY, driver_ids=(tenant_a.driver.pk,)),
    }
    with tenant_context(org):
        rollups_recompute_day(organization_id=org.pk, day=DAY)
        summaries = {k: kpi_summary(organization_id=org.pk, filters=f) for k, f in slices.items()}
        elsewhere = kpi_summary(
            organization_id=org.pk,
            filters=KpiFilters(start=DAY, end=DAY, hub_ids=(tenant_a.hub.pk + 10_000,)),
        )
    for name, summary in summaries.items():
        assert [(r.code, r.failures) for r in summary.failures_by_reason] == [("not_home", 1)], name
        errors = {e.horizon_minutes: e.histogram for e in summary.eta_accuracy}
        assert errors == {60: ((-5, 1),), 30: ((3, 1),), 10: ((3, 1),)}, name
    assert elsewhere.failures_by_reason == ()
    assert [e.predictions for e in elsewhere.eta_accuracy] == [0, 0, 0]


def test_eta_errors_take_the_last_prediction_made_before_each_horizon() -> None:
    arrival = local(10)
    predictions = [(local(8), local(9, 55)), (local(9, 20), local(10, 3))]
    assert eta_errors(predictions, arrival) == {"60": -5, "30": 3, "10": 3}
    assert eta_errors([(local(9, 55), local(10))], arrival) == {}  # too late for every horizon
    assert eta_errors([(local(7), local(13))], arrival) == {"60": 60, "30": 60, "10": 60}
