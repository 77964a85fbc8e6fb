"""The KPI interface's shape and arithmetic on stored rollup rows (the hand-computed day from
raw data is in test_kpis.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert
from deliveries.models import Route
from reporting.kpis.figures import CostParameters, Figure, KpiTotals, figures_compute
from reporting.kpis.filters import KpiFilters
from reporting.kpis.summary import (
    KpiRanking,
    KpiRow,
    Worst,
    kpi_breakdown,
    kpi_daily,
    kpi_dashboard,
    kpi_summary,
)
from reporting.models import DailyRouteRollup, DailyVehicleRollup
from reporting.route_rollups import hub_day_histograms_refresh
from tenancy.context import tenant_context
from tests.alerts.factories import alert_open
from tests.conftest import Tenant
from tests.factories import DriverFactory, VehicleFactory

DAY = dt.date(2026, 6, 10)


def test_figures_are_ratios_of_sums_and_none_without_data() -> None:
    costs = CostParameters(
        cost_per_km=Decimal("0.5"),
        cost_per_hour=Decimal("20"),
        idle_fuel_litres_per_hour=Decimal("1"),
        fuel_price_per_litre=Decimal("2"),
    )
    empty = figures_compute(KpiTotals(), costs)
    assert empty.on_time_rate.value is None and empty.distance_km.value is None
    assert empty.deliveries.value == 0
    day_one = KpiTotals(vehicle_days=1, delivered_on_time=1, delivered_with_window=1)
    day_two = KpiTotals(vehicle_days=1, delivered_on_time=1, delivered_with_window=3)
    # The period's rate is 2/4, not the mean of 1/1 and 1/3.
    assert figures_compute(day_one + day_two, costs).on_time_rate == Figure(0.5, 2, 4, "ratio")
    # 10 km, 2 h shift, 30 min idle: 10 x 0.5 + 2 x 20 + 0.5 x 1 x 2 = 46.
    totals = KpiTotals(
        vehicle_days=1, distance_m=10_000, shift_seconds=7200, idle_seconds=1800, deliveries=4
    )
    figures = figures_compute(totals, costs)
    assert figures.cost.value == pytest.approx(46)
    assert figures.idle_cost.value == pytest.approx(1)
    assert figures.cost_per_delivery.value == pytest.approx(11.5)
    assert Figure(1.1, 11, 10, "ratio").change(Figure(1.0, 10, 10, "ratio")) == pytest.approx(0.1)


@pytest.mark.django_db
def test_summary_daily_and_breakdown_read_the_vehicle_rollups(tenant_a: Tenant) -> None:
    organization = tenant_a.organization
    with tenant_context(organization):
        for offset, distance in ((0, 12_000.0), (1, 8_000.0), (-1, 5_000.0)):
            DailyVehicleRollup.objects.create(
                organization=organization,
                vehicle=tenant_a.vehicle,
                day=DAY + dt.timedelta(days=offset),
                hub_id=tenant_a.hub.pk,
                distance_m=distance,
                speeding_events=1,
                shift_seconds=3600,
                computed_at=timezone.now(),
            )
        filters = KpiFilters(start=DAY, end=DAY + dt.timedelta(days=1))
        summary = kpi_summary(organization_id=organization.pk, filters=filters)
        assert summary.figures.distance_km.value == pytest.approx(20)
        assert summary.previous.distance_km.value == pytest.approx(5)  # the 9th and the 8th
        assert summary.figures.speeding_per_100_km.value == pytest.approx(10)
        daily = kpi_daily(organization_id=organization.pk, filters=filters)
        assert [(d.day, d.figures.distance_km.value) for d in daily] == [
            (DAY, pytest.approx(12)),
            (DAY + dt.timedelta(days=1), pytest.approx(8)),
        ]
        rows = kpi_breakdown(organization_id=organization.pk, filters=filters, by="vehicle")
        assert [(r.key, r.label) for r in rows] == [
            (str(tenant_a.vehicle.pk), tenant_a.vehicle.plate)
        ]
        other_hub = KpiFilters(start=DAY, end=DAY, hub_ids=(tenant_a.hub.pk + 1000,))
        assert (
            kpi_summary(
                organization_id=organization.pk, filters=other_hub
            ).figures.distance_km.value
            is None
        )


def _dashboard_data(tenant: Tenant) -> dict[str, int]:
    """Two vans and two drivers over four days (the period DAY..DAY+1 and the two before it):
    van 2 has no driver on DAY and is driven by driver 1 on DAY+1 and serves the zone only
    before the period (its alert in the period is not the zone's); alerts in both periods. Distances are exact in binary (x.25 m), so
    sums in any order are equal."""
    organization, hub = tenant.organization, tenant.hub
    driver_two = DriverFactory.create(organization=organization)
    van_two = VehicleFactory.create(organization=organization, hub=hub, driver=driver_two)
    vans = {tenant.vehicle.pk: tenant.driver.pk, van_two.pk: driver_two.pk}
    routes = {}
    with tenant_context(organization):
        for offset in range(-2, 2):
            day = DAY + dt.timedelta(days=offset)
            for n, (vehicle_id, driver_id) in enumerate(vans.items()):
                if vehicle_id == van_two.pk and offset == 1:
                    driver_id = tenant.driver.pk
                in_zone = vehicle_id == tenant.vehicle.pk or offset < 0
                served = [tenant.zone.pk] if in_zone else []
                DailyVehicleRollup.objects.create(
                    organization=organization, vehicle_id=vehicle_id, day=day, hub_id=hub.pk,
                    driver_id=None if (vehicle_id == van_two.pk and offset == 0) else driver_id,
                    zone_ids=served, distance_m=10_000.25 * (offset + 3) + n, moving_seconds=900 * (n + 1),
                    idle_seconds=300 + offset, stopped_seconds=60, shift_seconds=3_600 * (n + 2),
                    speeding_events=offset + 2, computed_at=timezone.now(),
                )  # fmt: skip
                route = Route.objects.create(
                    organization=organization, hub=hub, date=day, vehicle_id=vehicle_id,
                    driver_id=driver_id,
                )  # fmt: skip
                routes[(vehicle_id, offset)] = route.pk
                DailyRouteRollup.objects.create(
                    organization=organization, route=route, day=day, hub_id=hub.pk,
                    vehicle_id=vehicle_id, driver_id=driver_id, zone_ids=served,
                    deliveries=10 + offset + n, failures=n, delivered_with_window=8 + n,
                    delivered_on_time=7 + offset, first_attempts=11, first_attempt_successes=9,
                    stops_planned=12, stops_visited=11, on_route_seconds=3_000 + 60 * n,
                    dwell_seconds=1_200, dwell_stops=11, planned_distance_m=9_000.5,
                    actual_distance_m=9_500.75 + n, planned_seconds=2_900, actual_seconds=3_100,
                    failures_by_reason={"not_home": n}, computed_at=timezone.now(),
                )  # fmt: skip
            hub_day_histograms_refresh(organization_id=organization.pk, day=day)
    zone = zoneinfo.ZoneInfo(str(organization.timezone))
    for vehicle_id, offset, handled in (
        (tenant.vehicle.pk, 0, True), (van_two.pk, -1, False), (van_two.pk, 1, True),
    ):  # fmt: skip
        noon = dt.datetime.combine(DAY + dt.timedelta(days=offset), dt.time(12), zone)
        alert = alert_open(
            organization.pk, vehicle_id=vehicle_id, hub_id=hub.pk, opened_at=noon, emit=False
        )
        with tenant_context(organization):
            Alert.objects.filter(pk=alert.pk).update(
                route_id=routes[(vehicle_id, offset)],
                acknowledged_at=noon + dt.timedelta(seconds=90) if handled else None,
                resolved_at=noon + dt.timedelta(seconds=600) if handled else None,
            )
    return {"van_two": van_two.pk, "driver_two": driver_two.pk}


def _worst_of(rows: list[KpiRow], rank: str, worst: Worst, shown: int) -> KpiRanking:
    """The ranking as the page made it from the breakdown rows before kpi_dashboard did."""
    measured = [r for r in rows if getattr(r.figures, rank).value is not None]
    measured.sort(
        key=lambda r: (getattr(r.figures, rank).value, r.label), reverse=worst == "highest"
    )
    return KpiRanking(measured[:shown], len(measured))


RANKINGS: list[tuple[str, Worst, int]] = [
    ("on_time_rate", "lowest", 8),
    ("speeding_per_100_km", "highest", 1),
    ("failures", "highest", 8),
    ("deliveries", "lowest", 8),
    ("cost_per_delivery", "highest", 8),
]


@pytest.mark.django_db
def test_the_dashboard_read_gives_the_figures_of_the_separate_reads(tenant_a: Tenant) -> None:
    ids = _dashboard_data(tenant_a)
    organization = tenant_a.organization
    period = KpiFilters(start=DAY, end=DAY + dt.timedelta(days=1))
    slices = [
        period,
        dataclasses.replace(period, vehicle_ids=(ids["van_two"],)),
        dataclasses.replace(period, driver_ids=(tenant_a.driver.pk,)),
        dataclasses.replace(period, hub_ids=(tenant_a.hub.pk,)),
        dataclasses.replace(period, zone_ids=(tenant_a.zone.pk,)),
        KpiFilters(start=DAY, end=DAY),
    ]
    with tenant_context(organization):
        org = organization.pk
        for filters in slices:
            vehicles = kpi_breakdown(organization_id=org, filters=filters, by="vehicle")
            drivers = kpi_breakdown(organization_id=org, filters=filters, by="driver")
            days = kpi_breakdown(organization_id=org, filters=filters, by="day")
            for rank, worst, shown in RANKINGS:
                dashboard = kpi_dashboard(
                    organization_id=org, filters=filters, rank=rank, worst=worst, shown=shown
                )
                assert dashboard.summary == kpi_summary(organization_id=org, filters=filters)
                assert dashboard.days == kpi_daily(organization_id=org, filters=filters)
                assert dashboard.worst_vehicles == _worst_of(vehicles, rank, worst, shown)
                assert dashboard.worst_drivers == _worst_of(drivers, rank, worst, shown)
                assert dashboard.worst_days == _worst_of(days, rank, worst, shown), filters
        whole = kpi_dashboard(
            organization_id=org, filters=period, rank="alerts", worst="highest", shown=8
        )
    # The data reaches every part: two alerts in the period and one before it, both vans,
    # both drivers (driver 1 also drove van 2 on the last day).
    assert (whole.summary.figures.alerts.value, whole.summary.previous.alerts.value) == (2, 1)
    assert whole.worst_vehicles.total == 2 and whole.worst_drivers.total == 2
    worst_driver = whole.worst_drivers.rows[0]
    assert (worst_driver.key, worst_driver.figures.alerts.value) == (str(tenant_a.driver.pk), 2)
