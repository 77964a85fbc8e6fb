"""Each streamed kind on crafted tracks, through the pure evaluator (no database)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from alerts.evaluation.episode import Action
from alerts.evaluation.stream import (
    Fix,
    OrgGeometry,
    StreamRule,
    Transition,
    VehicleContext,
    stream_rule_compile,
    vehicle_evaluate,
)
from alerts.kinds import kind_params
from tests.alerts.tracks import context, drive, geometry, offset, square


def rule(kind: str, rule_id: int = 1, min_duration: float = 0, **params: Any) -> StreamRule:
    return stream_rule_compile(
        rule_id=rule_id,
        kind=kind,
        params=kind_params(kind, params),
        min_duration_seconds=min_duration,
    )


def always_open(rule: StreamRule, vehicle_id: int, t: float) -> float | None:
    return None


def evaluate(
    rules: list[StreamRule], fixes: Iterable[Fix], *, geo: OrgGeometry | None = None,
    ctx: VehicleContext | None = None, state: dict[str, Any] | None = None, gate: Any = always_open,
) -> tuple[dict[str, Any], list[Transition]]:  # fmt: skip
    geo = geo or geometry()
    return vehicle_evaluate(
        rules=rules, ctx=ctx or context(geo), geometry=geo, state=state or {}, fixes=list(fixes),
        gate=gate,
    )  # fmt: skip


def actions(transitions: list[Transition]) -> list[Action]:
    return [t.action for t in transitions]


def test_speeding_one_alert_per_episode_with_peak_and_duration() -> None:
    track = [
        *drive(start_t=0, seconds=60, kmh=60),
        *drive(start_t=65, seconds=60, kmh=100),
        *drive(start_t=130, seconds=20, kmh=120),
        *drive(start_t=155, seconds=60, kmh=60),
    ]
    _, transitions = evaluate([rule("speeding", limit_kmh=90, min_seconds=20)], track)
    assert actions(transitions)[0] is Action.TRY_OPEN
    assert actions(transitions).count(Action.TRY_OPEN) == 1
    assert transitions[0].at == 85  # 20 s after the first fix over the limit
    end = transitions[-1]
    assert end.action is Action.RESOLVE and end.peak == 120 and end.at - end.since == 90


def test_speeding_hysteresis_keeps_one_episode_through_dips_just_under_the_limit() -> None:
    speeds = [100, 100, 100, 100, 100, 88, 100, 87, 100, 100, 80]
    track = [Fix(i * 10.0, *offset(0, i * 250.0), s) for i, s in enumerate(speeds)]
    _, transitions = evaluate(
        [rule("speeding", limit_kmh=90, min_seconds=20, hysteresis_kmh=5)], track
    )
    assert actions(transitions).count(Action.TRY_OPEN) == 1
    assert actions(transitions)[-1] is Action.RESOLVE and transitions[-1].at == 100


def test_speeding_under_the_min_duration_never_alerts() -> None:
    track = [*drive(start_t=0, seconds=15, kmh=120), *drive(start_t=20, seconds=30, kmh=50)] * 3
    track = [Fix(i * 5.0, f.lat, f.lon, f.speed) for i, f in enumerate(track)]
    _, transitions = evaluate([rule("speeding", limit_kmh=90, min_seconds=20)], track)
    assert transitions == []


def test_speeding_uses_the_zones_lower_limit() -> None:
    geo = geometry([(5, "geofence", square(2000))])
    zone_rule = rule("speeding", limit_kmh=90, zone_limits={"5": 30}, min_seconds=10)
    _, inside = evaluate([zone_rule], drive(seconds=60, kmh=50), geo=geo)
    assert actions(inside)[0] is Action.TRY_OPEN and inside[0].details["limit_kmh"] == 30
    _, outside = evaluate([zone_rule], drive(seconds=60, kmh=50, north_m=5000), geo=geo)
    assert outside == []


def test_geofence_exit_opens_outside_and_resolves_on_return() -> None:
    geo = geometry([(9, "service_area", square(1000))])
    out_and_back = [
        *drive(start_t=0, seconds=100, kmh=36, start_east_m=0),  # 0 -> 1000 m: the edge
        *drive(start_t=105, seconds=100, kmh=36, start_east_m=1050),  # outside
        *[Fix(210 + i * 5.0, *offset(0, 500)) for i in range(5)],  # back inside
    ]
    _, transitions = evaluate(
        [rule("geofence_exit", min_seconds=30, buffer_m=30)], out_and_back, geo=geo
    )
    assert actions(transitions)[0] is Action.TRY_OPEN
    assert actions(transitions)[-1] is Action.RESOLVE and transitions[-1].at == 210


def test_geofence_enter_of_a_restricted_zone() -> None:
    geo = geometry([(3, "restricted", square(200, centre=(0, 2000)))])
    track = list(drive(seconds=600, kmh=18))  # 0 -> 3000 m east, through 1800-2200
    _, transitions = evaluate([rule("geofence_enter", min_seconds=10)], track, geo=geo)
    assert actions(transitions)[0] is Action.TRY_OPEN
    assert transitions[0].details["zone_id"] == 3
    assert actions(transitions)[-1] is Action.RESOLVE


def test_idle_away_from_planned_places_only() -> None:
    standing = [Fix(i * 30.0, *offset(0, 3000), 0.0, ignition=True) for i in range(30)]
    geo = geometry()
    idle = rule("idle", minutes=10)
    _, away = evaluate([idle], standing, geo=geo, ctx=context(geo, places=[offset(0, 0)]))
    assert actions(away) == [Action.TRY_OPEN] and away[0].at == 600
    _, at_stop = evaluate([idle], standing, geo=geo, ctx=context(geo, places=[offset(0, 3050)]))
    assert at_stop == []
    engine_off = [Fix(f.t, f.lat, f.lon, 0.0, ignition=False) for f in standing]
    assert evaluate([idle], engine_off, geo=geo)[1] == []


def test_idle_decides_from_positions_when_the_device_reports_no_speed() -> None:
    geo = geometry()
    creeping = [Fix(i * 30.0, *offset(0, 3000 + i * 2.0)) for i in range(30)]  # 0.24 km/h
    _, transitions = evaluate([rule("idle", minutes=5)], creeping, geo=geo)
    assert actions(transitions) == [Action.TRY_OPEN]
    moving = [Fix(i * 30.0, *offset(0, i * 300.0)) for i in range(30)]  # 36 km/h
    assert evaluate([rule("idle", minutes=5)], moving, geo=geo)[1] == []


def test_unplanned_stop_opens_and_ends_when_moving_again() -> None:
    geo = geometry()
    track = [
        *[Fix(i * 30.0, *offset(0, 3000), 0.0) for i in range(25)],
        *drive(start_t=750, seconds=60, kmh=40, start_east_m=3000),
    ]
    _, transitions = evaluate([rule("unplanned_stop", minutes=8)], track, geo=geo,
                              ctx=context(geo, places=[offset(0, 0)]))  # fmt: skip
    assert actions(transitions) == [Action.TRY_OPEN, Action.RESOLVE]
    assert transitions[0].at == 480 and transitions[1].at == 750


def test_route_deviation_is_measured_to_segments_not_vertices() -> None:
    geo = geometry()
    # A 10 km straight leg: midway the nearest vertex is 5 km away, the segment 100 m.
    route = [offset(0, 0), offset(0, 10_000)]
    ctx = context(geo, route=route)
    on_road = list(drive(seconds=600, kmh=36, north_m=100))
    assert (
        evaluate(
            [rule("route_deviation", corridor_m=400, min_seconds=30)], on_road, geo=geo, ctx=ctx
        )[1]
        == []
    )
    off_road = list(drive(seconds=600, kmh=36, north_m=1500))
    _, transitions = evaluate(
        [rule("route_deviation", corridor_m=400, min_seconds=30)], off_road, geo=geo, ctx=ctx
    )
    assert actions(transitions)[0] is Action.TRY_OPEN
    assert 1400 < transitions[0].details["distance_m"] < 1600


def test_battery_low_with_hysteresis() -> None:
    levels = [30, 20, 15, 14, 18, 16, 21, 22]
    track = [Fix(i * 60.0, *offset(0, 0), 0.0, battery=b) for i, b in enumerate(levels)]
    _, transitions = evaluate([rule("battery_low", below_pct=15, hysteresis_pct=5)], track)
    assert actions(transitions)[0] is Action.TRY_OPEN and transitions[0].at == 120
    assert actions(transitions)[-1] is Action.RESOLVE and transitions[-1].at == 360
    assert transitions[-1].peak == 14


def test_a_refusing_gate_blocks_until_its_time_then_opens() -> None:
    calls = []

    def gate(rule: StreamRule, vehicle_id: int, t: float) -> float | None:
        calls.append(t)
        return 100.0 if t < 100 else None

    _, transitions = evaluate(
        [rule("speeding", limit_kmh=90, min_seconds=0)],
        drive(start_t=0, seconds=150, kmh=120),
        gate=gate,
    )
    assert calls[0] == 0 and transitions[0].at == 100
    assert len(calls) == 2  # not asked again on every fix while blocked


def test_state_carries_an_episode_across_batches() -> None:
    speeding = [rule("speeding", limit_kmh=90, min_seconds=20)]
    track = list(drive(start_t=0, seconds=60, kmh=120))
    state, first = evaluate(speeding, track[:3])
    assert first == [] and state["1"]["s"] == 0
    _, second = evaluate(speeding, track[3:], state=state)
    assert actions(second)[0] is Action.TRY_OPEN and second[0].since == 0
