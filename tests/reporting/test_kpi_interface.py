"""The KPI interface's shape and arithmetic on stored rollup rows (the hand-computed day from
raw data is in test_kpis.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from reporting.kpis.figures import CostParameters, Figure, KpiTotals, figures_compute
from reporting.kpis.filters import KpiFilters
from reporting.kpis.summary import kpi_breakdown, kpi_daily, kpi_summary
from reporting.models import DailyVehicleRollup
from tenancy.context import tenant_context
from tests.conftest import Tenant

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
