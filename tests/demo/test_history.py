"""The demo's weeks of history (demo/history.py) at a small size: three days around the spring
DST change, written the way the system stores them, consistent with each other (positions,
routes, stops, timelines, proofs, alerts, rollups), in the organization's local days, and
seeded once however often the seed runs."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter

import pytest
from django.core.management import call_command
from django.db import connection
from django_scopes import scopes_disabled

from alerts.models import Alert, AlertEvent
from deliveries.models import DeliveryEvent, Order, ProofOfDelivery, Route, Stop
from demo.history import demo_history_seed, history_days
from demo.seed import demo_seed
from fleet.geo import haversine_m
from reporting.kpis.filters import KpiFilters
from reporting.kpis.summary import kpi_summary
from reporting.models import DailyRouteRollup, DailyVehicleRollup
from reporting.rollups import rollups_recompute_day
from tenancy.context import tenant_context
from tenancy.models import Membership, Organization, Role
from tenancy.outbox.models import OutboxEvent
from tests.conftest import login

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 31)  # history: 28, 29 (23 hours: clocks go forward) and 30 March
DAYS = 3


@pytest.fixture
def northwind(settings: object, tmp_path: object) -> Organization:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    demo_seed()
    with scopes_disabled():
        return Organization.objects.get(slug="northwind")


def fixes_per_vehicle_day(organization: Organization) -> Counter[tuple[int, dt.date]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT vehicle_id, (fix_time AT TIME ZONE %s)::date, count(*) FROM fleet_position "
            "WHERE organization_id = %s GROUP BY 1, 2",
            [organization.timezone, organization.pk],
        )
        return Counter({(vehicle, day): count for vehicle, day, count in cursor.fetchall()})


def test_history_days_are_the_days_before_today() -> None:
    assert history_days(TODAY, 3) == [
        dt.date(2026, 3, 28),
        dt.date(2026, 3, 29),
        dt.date(2026, 3, 30),
    ]
    assert history_days(TODAY, 0) == []


def test_three_days_of_history_hang_together(northwind: Organization) -> None:
    counts = demo_history_seed(northwind, days=DAYS, today=TODAY)
    zone = zoneinfo.ZoneInfo(northwind.timezone)
    assert counts.days == DAYS
    with scopes_disabled():
        routes = list(Route.objects.filter(organization=northwind, date__lt=TODAY))
        vehicles = {route.vehicle_id for route in routes}
        assert len(vehicles) == 30 and len(routes) == 30 * DAYS == counts.routes
        assert {route.status for route in routes} == {"completed"}
        stops = list(Stop.objects.filter(route__in=routes).select_related("route", "order"))
        orders = Order.objects.filter(organization=northwind, reference__contains="-H2603")
        assert len(stops) == orders.count() == counts.orders > 30 * DAYS * 15
        for stop in stops:
            # Every visit lies in its route's local day; arrival before departure.
            assert stop.actual_arrival.astimezone(zone).date() == stop.route.date
            assert stop.actual_arrival < stop.actual_departure
            assert stop.order.latitude is not None
        # Timelines: created -> ... -> delivered, or failed -> returned to hub, in time order.
        by_order: dict[int, list[DeliveryEvent]] = {}
        for event in DeliveryEvent.objects.filter(order__in=orders).order_by("at", "pk"):
            by_order.setdefault(event.order_id, []).append(event)
        statuses = Counter(order.status for order in orders)
        assert set(statuses) == {"delivered", "returned_to_hub"}
        assert statuses["returned_to_hub"] > 0
        for order in orders:
            path = [event.to_status for event in by_order[order.pk]]
            assert path[:4] == ["created", "assigned", "out_for_delivery", "arrived"]
            assert path[4:] == (
                ["delivered"] if order.status == "delivered" else ["failed", "returned_to_hub"]
            )
        failed = DeliveryEvent.objects.filter(order__in=orders, to_status="failed")
        assert not failed.filter(failure_reason=None).exists()
        # A proof for every delivery, stamped within 25 m of the door, with its files.
        proofs = ProofOfDelivery.objects.filter(order__in=orders).select_related("order")
        assert proofs.count() == statuses["delivered"] == counts.proofs
        for proof in proofs[:200]:
            assert (
                haversine_m(
                    proof.order.latitude, proof.order.longitude, proof.latitude, proof.longitude
                )
                <= 25.5
            )
            assert proof.photo.name and proof.signature.name
        # Speeding alerts: resolved, acknowledged, with a timeline; the van really was fast.
        alerts = list(Alert.objects.filter(organization=northwind, kind="speeding"))
        assert len(alerts) == counts.alerts
        for alert in alerts:
            assert alert.status == "resolved" and alert.acknowledged_at and alert.resolved_at
            assert alert.opened_at <= alert.acknowledged_at <= alert.resolved_at
            assert AlertEvent.objects.filter(alert=alert).count() == 3
        # The ETA history the KPIs read: three announcements per stop, all already relayed.
        etas = OutboxEvent.objects.filter(organization=northwind, kind="order.eta_changed")
        assert etas.count() == 3 * len(stops) and not etas.filter(relayed_at=None).exists()
        some = etas.filter(aggregate_id=stops[0].order_id).order_by("occurred_at")
        assert [stops[0].actual_arrival - e.occurred_at for e in some] == [
            dt.timedelta(minutes=m) for m in (60, 30, 10)
        ]
    # Positions: only inside the shifts' local days, and the rollups count exactly them.
    fixes = fixes_per_vehicle_day(northwind)
    assert set(day for _, day in fixes) == set(history_days(TODAY, DAYS))
    assert sum(fixes.values()) == counts.positions
    with scopes_disabled():
        rollups = {
            (row.vehicle_id, row.day): row
            for row in DailyVehicleRollup.objects.filter(organization=northwind)
        }
    assert set(rollups) == set(fixes)
    for key, row in rollups.items():
        assert row.fixes == fixes[key]
        assert row.trips >= 5 and row.stops >= 5 and row.distance_m > 5000
    if alerts:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(speed_kmh) FROM fleet_position WHERE organization_id = %s "
                "AND vehicle_id = %s AND fix_time BETWEEN %s AND %s",
                [northwind.pk, alerts[0].vehicle_id, alerts[0].condition_started_at,
                 alerts[0].resolved_at],
            )  # fmt: skip
            assert cursor.fetchone()[0] > 65
    # A manager replays a seeded day and downloads a seeded order's dispute packet.
    with scopes_disabled():
        manager = Membership.objects.get(organization=northwind, role=Role.MANAGER, hubs=None).user
    client = login(manager)
    stop = stops[-1]
    day = client.get(
        f"/history/vehicles/{stop.route.vehicle_id}/{stop.route.date}/track.json"
    ).json()
    assert day["fixCount"] == fixes[(stop.route.vehicle_id, stop.route.date)]
    assert day["trips"] and day["stops"]
    assert {"arrived", "delivered"} <= {event["kind"] for event in day["events"]}
    packet = client.get(f"/history/orders/{stop.order_id}/dispute-packet.pdf")
    assert packet.status_code == 200 and packet.content.startswith(b"%PDF-")
    # Seeding again adds nothing; one more day back adds only that day.
    again = demo_history_seed(northwind, days=DAYS, today=TODAY)
    assert again.days == again.positions == again.orders == 0
    more = demo_history_seed(northwind, days=DAYS + 1, today=TODAY)
    assert more.days == 1 and more.routes == 30 and more.rollups == 30


def test_the_command_seeds_history_and_says_what_it_wrote(
    settings: object, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # type: ignore[attr-defined]
    call_command("seed_demo", "--history-days", "1")
    out = capsys.readouterr().out
    assert "History: 2 organization-days" in out and " positions" in out
    call_command("seed_demo", "--history-days", "1")
    assert "History: the last 1 days are already seeded." in capsys.readouterr().out


def test_the_seeded_days_fill_the_dashboard_consistently(northwind: Organization) -> None:
    """The manager's KPIs over two seeded days, against the seeded rows counted here: every
    tile the demo feeds has a value, and the values agree with the orders, events and alerts."""
    counts = demo_history_seed(northwind, days=2, today=TODAY)
    first, last = history_days(TODAY, 2)
    with tenant_context(northwind.pk), scopes_disabled():
        orders = Order.objects.filter(organization=northwind, reference__contains="-H2603")
        delivered = orders.filter(status="delivered").count()
        failed = orders.filter(status="returned_to_hub").count()
        on_time = sum(
            1
            for order in orders.filter(status="delivered")
            for event in order.events.filter(to_status="delivered")
            if order.window_start <= event.at <= order.window_end
        )
        summary = kpi_summary(
            organization_id=northwind.pk, filters=KpiFilters(start=first, end=last)
        )
        # The one pass over the seeded days stored what a recompute of each day stores.
        before = _rollup_rows(northwind)
        for day in (first, last):
            rollups_recompute_day(organization_id=northwind.pk, day=day)
        assert _rollup_rows(northwind) == before
    figures = summary.figures
    assert delivered > 0 and failed > 0
    assert figures.deliveries.value == delivered and figures.failures.value == failed
    assert (
        figures.on_time_rate.numerator == on_time and figures.on_time_rate.denominator == delivered
    )
    assert 0.5 < (figures.on_time_rate.value or 0) < 1  # most inside their window, a few late
    assert figures.first_attempt_success_rate.value == pytest.approx(
        delivered / (delivered + failed)
    )
    assert sum(reason.failures for reason in summary.failures_by_reason) == failed
    assert figures.alerts.value == counts.alerts
    for name in ("distance_km", "moving_seconds", "idle_seconds", "stopped_seconds",
                 "stops_per_hour", "average_dwell_seconds", "utilization", "planned_distance_km",
                 "actual_distance_km", "cost_per_delivery"):  # fmt: skip
        value = getattr(figures, name).value
        assert value is not None and value > 0, name
    assert 0 < (figures.utilization.value or 0) <= 1
    # ETA accuracy at 60, 30 and 10 minutes: one prediction per visit each, closer is better.
    accuracy = {row.horizon_minutes: row for row in summary.eta_accuracy}
    assert set(accuracy) == {60, 30, 10}
    assert {row.predictions for row in accuracy.values()} == {delivered + failed}
    assert (accuracy[10].mean_absolute_error_minutes or 0) < (
        accuracy[60].mean_absolute_error_minutes or 0
    )
    # The manager's dashboard shows them.
    with scopes_disabled():
        manager = Membership.objects.get(organization=northwind, role=Role.MANAGER, hubs=None).user
    page = login(manager).get(f"/dashboards/?start={first}&end={last}")
    assert page.status_code == 200 and page.context["page"].has_data
    tiles = {tile.spec.figure: tile for tile in page.context["page"].tiles}
    assert tiles["deliveries"].value == delivered
    assert page.context["page"].offenders and all(t.rows for t in page.context["page"].offenders)


def _rollup_rows(organization: Organization) -> dict[str, list[tuple[object, ...]]]:
    ignore = {"id", "computed_at"}
    found = {}
    for model in (DailyVehicleRollup, DailyRouteRollup):
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in ignore]
        found[model.__name__] = sorted(
            model.objects.filter(organization=organization).values_list(*names)
        )
    return found
