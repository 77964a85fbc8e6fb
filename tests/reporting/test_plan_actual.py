"""Plan versus actual: sequence compliance, windows, distances (pure), and the route page."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django_scopes import scopes_disabled

from deliveries.models import Order, Route, Stop
from deliveries.outbox import order_eta_changed_emit
from reporting.plan_actual import (
    StopPlan,
    eta_moves,
    longest_increasing_run,
    plan_versus_actual,
)
from tenancy.context import tenant_context
from tenancy.models import Membership, Role
from tenancy.outbox.models import OutboxEvent
from tests.conftest import Tenant, login
from tests.deliveries.builders import order_build
from tests.factories import HubFactory
from tests.reporting.positions import positions_insert
from tests.reporting.tracks import TrackBuilder

UTC = dt.UTC
T0 = dt.datetime(2026, 6, 10, 8, 0, tzinfo=UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def plan(sequence: int, *, arrived: float | None, window: tuple[float, float] | None) -> StopPlan:
    return StopPlan(
        stop_id=sequence,
        sequence=sequence,
        reference=f"ORD-{sequence}",
        latitude=52.37 + 0.01 * sequence,
        longitude=4.89,
        planned_arrival=at(30 * sequence),
        eta=None,
        actual_arrival=None if arrived is None else at(arrived),
        actual_departure=None,
        window_start=None if window is None else at(window[0]),
        window_end=None if window is None else at(window[1]),
    )


@pytest.mark.parametrize(
    ("driven", "expected"),
    [
        ([1, 2, 3, 4, 5], 5),
        ([2, 1, 3, 4, 5], 4),
        ([5, 4, 3, 2, 1], 1),
        ([1, 5, 2, 3, 4], 4),
        ([], 0),
    ],
)
def test_the_longest_run_in_planned_order(driven: list[int], expected: int) -> None:
    assert longest_increasing_run(driven) == expected


def test_plan_versus_actual_by_hand() -> None:
    """Planned 1, 2, 3, 4; driven 2, 1, 3 (4 not visited). By hand: 2 of 3 visits in planned
    order, stop 1 arrived 10 min after its window, stop 2 early by 5, stop 3 on time."""
    stops = [
        plan(1, arrived=70, window=(30, 60)),
        plan(2, arrived=40, window=(45, 90)),
        plan(3, arrived=100, window=(90, 120)),
        plan(4, arrived=None, window=(120, 150)),
    ]
    result = plan_versus_actual(stops, hub=(52.37, 4.89), driven_distance_m=12_000)
    assert result.driven_sequence == (2, 1, 3)
    assert result.sequence_compliance == pytest.approx(2 / 3)
    by_sequence = {o.stop.sequence: o for o in result.outcomes}
    assert (by_sequence[1].window_status, by_sequence[1].minutes_off_window) == ("late", 10)
    assert (by_sequence[2].window_status, by_sequence[2].minutes_off_window) == ("early", 5)
    assert by_sequence[3].window_status == "on_time"
    assert by_sequence[4].window_status == "not_visited" and by_sequence[4].driven_position is None
    assert by_sequence[1].driven_position == 2 and by_sequence[1].minutes_off_plan == 40
    assert result.planned_seconds == 90 * 60  # 08:30 -> 10:00
    assert result.driven_seconds == 60 * 60  # 08:40 -> 09:40
    # Hub -> four stops 0.01 degrees apart northwards -> hub: 0.04 degrees out and back.
    assert result.planned_distance_m == pytest.approx(2 * 0.04 * 111_195, rel=0.001)
    assert result.count("late") == 1 and result.visited == 3


def test_nothing_visited_has_no_compliance_yet() -> None:
    result = plan_versus_actual(
        [plan(1, arrived=None, window=None)], hub=(52.37, 4.89), driven_distance_m=None
    )
    assert result.sequence_compliance is None and result.driven_seconds is None


@pytest.mark.django_db
def test_the_route_page_compares_plan_and_drive(tenant_a: Tenant) -> None:
    tenant_a.organization.timezone = "Europe/Amsterdam"
    tenant_a.organization.save(update_fields=["timezone"])
    route: Route = tenant_a.delivery_objects[Route]
    second = order_build(
        tenant_a.organization,
        tenant_a.hub,
        reference="ORD-SECOND",
        window_start=at(0),
        window_end=at(60),
    )
    with scopes_disabled():
        first_stop = Stop.objects.get(route=route, sequence=1)
        Order.objects.filter(pk=first_stop.order_id).update(window_start=at(0), window_end=at(30))
        Stop.objects.filter(pk=first_stop.pk).update(
            planned_arrival=at(10), actual_arrival=at(50), actual_departure=at(55)
        )
        Stop.objects.create(
            organization=tenant_a.organization,
            route=route,
            sequence=2,
            order=second,
            planned_arrival=at(40),
            actual_arrival=at(20),
            actual_departure=at(25),
        )
        Route.objects.filter(pk=route.pk).update(date=T0.date(), created_at=at(-10))
        route.refresh_from_db()
        # Planned at 07:50 for that day; the ETA of the first stop moved twice while the van drove (the refresh announces it).
        first_order = Order.objects.get(pk=first_stop.order_id)
        for minute_made, predicted in ((15, 35), (30, 48)):
            with tenant_context(tenant_a.organization):
                order_eta_changed_emit(order=first_order, eta=at(predicted))
            OutboxEvent.objects.filter(pk=OutboxEvent.objects.latest("pk").pk).update(
                occurred_at=at(minute_made)
            )
    # The van drove 3 km between the two visits (08:20 -> 08:50).
    track = TrackBuilder(timestamp=at(20).timestamp()).park(300).drive(300).park(1200)
    positions_insert(tenant_a.device, track.fixes)
    response = login(tenant_a.users[Role.MANAGER]).get(f"/history/routes/{route.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "50%" in body  # driven 2 then 1: one of two visits in planned order
    assert "1 on time · 1 late · 0 early" in body
    assert "3.0 km" in body or "/ 3.0" in body
    assert "ORD-SECOND" in body
    local = at(50).astimezone(zoneinfo.ZoneInfo("Europe/Amsterdam")).strftime("%H:%M")
    assert local in body  # times in the organization's zone (10:50, not 08:50)
    assert f"/history/vehicles/{tenant_a.vehicle.pk}/{route.date.isoformat()}/" in body
    # The first stop's ETA history: the plan (08:10), then 08:35 (+25), then 08:48 (+13);
    # against the arrival at 08:50: -40, -15, -2 minutes. Local times, as the rest of the page.
    amsterdam = zoneinfo.ZoneInfo("Europe/Amsterdam")
    history = body.split('data-testid="eta-history"')[1].split("</td>")[0]
    expected: list[tuple[int | None, int, int | None, int]] = [
        (None, 10, None, -40),
        (15, 35, 25, -15),
        (30, 48, 13, -2),
    ]
    for made, predicted, shift, error in expected:
        assert at(predicted).astimezone(amsterdam).strftime("%H:%M") in history
        if made is not None:
            assert f"at {at(made).astimezone(amsterdam):%H:%M}" in history
            assert f"(+{shift} min)" in history
        assert f"{error:+d} min vs arrival" in history
    assert "3 ETAs" in history


@pytest.mark.django_db
def test_foreign_out_of_scope_and_driver_requests_are_refused(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    foreign: Route = tenant_b.delivery_objects[Route]
    assert (
        login(tenant_a.users[Role.ADMIN]).get(f"/history/routes/{foreign.pk}/").status_code == 404
    )
    own: Route = tenant_a.delivery_objects[Route]
    assert login(tenant_a.users[Role.DRIVER]).get(f"/history/routes/{own.pk}/").status_code == 403
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Elsewhere")
    with scopes_disabled():
        Membership.objects.get(user=tenant_a.users[Role.DISPATCHER]).hubs.set([other_hub])
    response = login(tenant_a.users[Role.DISPATCHER]).get(f"/history/routes/{own.pk}/")
    assert response.status_code == 404


def test_eta_moves_keep_changes_until_the_arrival() -> None:
    """Four refreshes: the first is the plan, the second repeats its minute (no move), the
    third moves it 12 minutes later, the fourth comes after the arrival (ignored)."""
    predictions = [
        (at(0), at(60)),
        (at(20), at(60) + dt.timedelta(seconds=10)),
        (at(30), at(72)),
        (at(80), at(75)),
    ]
    moves = eta_moves(predictions, actual_arrival=at(70))
    assert [(m.made_at, m.predicted) for m in moves] == [(at(0), at(60)), (at(30), at(72))]
    assert [m.shift_minutes for m in moves] == [None, 12]
    assert [m.error_minutes for m in moves] == [-10, 2]
    still_driving = eta_moves(predictions[:3], actual_arrival=None)
    assert [m.error_minutes for m in still_driving] == [None, None]
