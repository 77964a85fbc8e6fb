"""Plan versus actual for one route: pure arithmetic on the planned stops, what was visited and
the distance the vehicle drove. No database: the selector gathers the values.

- **Sequence compliance** is the share of visited stops that were visited in planned order:
  the longest run of visits whose planned sequence keeps increasing (not necessarily adjacent),
  over the visits. 1.0 = the plan's order; one stop taken early costs one stop, not every stop
  after it (which a position-by-position comparison would charge).
- **Planned distance** is the straight line hub -> stops in planned order -> hub (a lower bound
  of the road distance); **driven distance** is the trips' distance between the first and the
  last visit, from the positions, with the same trip rules as the history page.
- **Duration**, planned and driven alike: from the first stop's arrival to the last one's.
- Each stop's arrival against its order's window: early, on time, late, or not visited.
- Each stop's **ETA history**: every prediction of its arrival (the planned arrival, then each
  ETA the refresh announced), how far each moved from the one before and, once the stop was
  reached, how far each was from the actual arrival.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from .trips import haversine_m


@dataclass(frozen=True)
class StopPlan:
    stop_id: int
    sequence: int
    reference: str
    latitude: float | None
    longitude: float | None
    planned_arrival: dt.datetime | None
    eta: dt.datetime | None
    actual_arrival: dt.datetime | None
    actual_departure: dt.datetime | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None


@dataclass(frozen=True)
class StopOutcome:
    stop: StopPlan
    driven_position: int | None  # 1-based order in which it was visited; None: not visited
    window_status: str  # "early" | "on_time" | "late" | "not_visited" | "no_window"
    minutes_off_window: int  # minutes before the window (early) or after it (late), else 0
    minutes_off_plan: int | None  # actual minus planned arrival


@dataclass(frozen=True)
class PlanVersusActual:
    outcomes: tuple[StopOutcome, ...]
    planned_sequence: tuple[int, ...]
    driven_sequence: tuple[int, ...]
    sequence_compliance: float | None  # None: nothing visited yet
    planned_distance_m: float
    driven_distance_m: float | None
    planned_seconds: float | None
    driven_seconds: float | None

    @property
    def visited(self) -> int:
        return len(self.driven_sequence)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.window_status == status)


@dataclass(frozen=True)
class EtaMove:
    made_at: dt.datetime  # when the prediction was made
    predicted: dt.datetime  # the arrival it predicted
    shift_minutes: int | None  # against the prediction before it; None for the first
    error_minutes: int | None  # predicted minus actual arrival; None while not arrived


def eta_moves(
    predictions: Sequence[tuple[dt.datetime, dt.datetime]], actual_arrival: dt.datetime | None
) -> tuple[EtaMove, ...]:
    """A stop's predictions `(made_at, predicted)` in the order they were made, keeping only
    those that changed the predicted arrival (a refresh that announces the same minute again is
    not a move), and none made after the stop was reached."""
    moves: list[EtaMove] = []
    for made_at, predicted in sorted(predictions):
        if actual_arrival is not None and made_at > actual_arrival:
            break
        before = moves[-1].predicted if moves else None
        if before is not None and _minutes(predicted - before) == 0:
            continue
        moves.append(
            EtaMove(
                made_at=made_at,
                predicted=predicted,
                shift_minutes=None if before is None else _minutes(predicted - before),
                error_minutes=(
                    None if actual_arrival is None else _minutes(predicted - actual_arrival)
                ),
            )
        )
    return tuple(moves)


def longest_increasing_run(values: Sequence[int]) -> int:
    """Length of the longest strictly increasing subsequence (patience sorting, n log n)."""
    tails: list[int] = []
    for value in values:
        at = bisect.bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
        else:
            tails[at] = value
    return len(tails)


def _minutes(delta: dt.timedelta) -> int:
    return round(delta.total_seconds() / 60)


def _window(stop: StopPlan) -> tuple[str, int]:
    arrival = stop.actual_arrival
    if arrival is None:
        return "not_visited", 0
    if stop.window_start is None and stop.window_end is None:
        return "no_window", 0
    if stop.window_start is not None and arrival < stop.window_start:
        return "early", _minutes(stop.window_start - arrival)
    if stop.window_end is not None and arrival > stop.window_end:
        return "late", _minutes(arrival - stop.window_end)
    return "on_time", 0


def _path_m(points: Sequence[tuple[float, float]]) -> float:
    return sum(haversine_m(*a, *b) for a, b in itertools.pairwise(points))


def _span_seconds(times: Sequence[dt.datetime | None]) -> float | None:
    known = [t for t in times if t is not None]
    return (max(known) - min(known)).total_seconds() if len(known) >= 2 else None


def plan_versus_actual(
    stops: Sequence[StopPlan],
    *,
    hub: tuple[float, float],
    driven_distance_m: float | None,
) -> PlanVersusActual:
    planned = sorted(stops, key=lambda s: s.sequence)
    visited = sorted(
        (s for s in planned if s.actual_arrival is not None),
        key=lambda s: (s.actual_arrival, s.sequence),
    )
    position = {s.stop_id: i + 1 for i, s in enumerate(visited)}
    outcomes = []
    for stop in planned:
        status, off = _window(stop)
        off_plan = (
            _minutes(stop.actual_arrival - stop.planned_arrival)
            if stop.actual_arrival and stop.planned_arrival
            else None
        )
        outcomes.append(StopOutcome(stop, position.get(stop.stop_id), status, off, off_plan))
    driven_sequence = tuple(s.sequence for s in visited)
    points = [(s.latitude, s.longitude) for s in planned]
    located = [(lat, lon) for lat, lon in points if lat is not None and lon is not None]
    return PlanVersusActual(
        outcomes=tuple(outcomes),
        planned_sequence=tuple(s.sequence for s in planned),
        driven_sequence=driven_sequence,
        sequence_compliance=(
            longest_increasing_run(driven_sequence) / len(driven_sequence)
            if driven_sequence
            else None
        ),
        planned_distance_m=_path_m([hub, *located, hub]) if located else 0.0,
        driven_distance_m=driven_distance_m,
        planned_seconds=_span_seconds([s.planned_arrival for s in planned]),
        driven_seconds=_span_seconds([s.actual_arrival for s in visited]),
    )
