"""Trips and stops from a vehicle's fixes: pure functions on plain values, no database.

How a track is read (docs/history.md has the same in prose):

1. Every fix is *moving* or *still*. With `use_ignition` and a device that reports ignition,
   ignition off means still, whatever GPS jitter says. Otherwise a fix moves when its reported
   speed (or, without one, the speed implied by the distance from the previous fix) reaches
   `moving_speed_kmh`.
2. A run of moving fixes with no data gap inside is a candidate trip, from the last still fix
   before it to the first still fix after it. A candidate is kept only when it is long enough
   (`min_trip_seconds`), far enough along its path (`min_trip_distance_m`) and leaves the
   circle of `stop_radius_m` around its start: GPS jitter while parked moves a few metres with
   speed spikes, and never gets that far.
3. Kept trips closer together than `min_stop_seconds` (a traffic light, a queue) are one trip.
4. Everything between trips is still time; a still stretch of at least `min_stop_seconds` is a
   stop. A gap longer than `gap_seconds` splits trips; a stop survives a gap only when the
   vehicle is at the same place on both sides (a tracker that sleeps while parked).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class Fix:
    timestamp: float  # seconds since the epoch (UTC)
    latitude: float
    longitude: float
    speed_kmh: float | None = None
    ignition: bool | None = None


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    min_stop_seconds: int = 300
    min_trip_distance_m: float = 300.0
    min_trip_seconds: int = 60
    gap_seconds: int = 600
    use_ignition: bool = True
    moving_speed_kmh: float = 5.0
    stop_radius_m: float = 60.0


@dataclass(frozen=True, slots=True)
class Trip:
    start_index: int
    end_index: int
    start_time: float
    end_time: float
    distance_m: float
    max_speed_kmh: float

    @property
    def duration_seconds(self) -> float:
        return self.end_time - self.start_time


@dataclass(frozen=True, slots=True)
class Stop:
    start_index: int
    end_index: int
    start_time: float
    end_time: float
    latitude: float
    longitude: float
    # True when the device reported the ignition on for the whole stop: the engine idled.
    engine_on: bool

    @property
    def duration_seconds(self) -> float:
        return self.end_time - self.start_time


@dataclass(frozen=True, slots=True)
class TrackSummary:
    distance_m: float
    moving_seconds: float
    idle_seconds: float
    stopped_seconds: float
    max_speed_kmh: float
    trips: tuple[Trip, ...]
    stops: tuple[Stop, ...]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def step_distances(fixes: Sequence[Fix]) -> list[float]:
    """steps[i]: metres from fix i-1 to fix i (steps[0] = 0). The detection's costliest part:
    a caller that summarizes several windows of one track can compute it once and pass it."""
    steps = [0.0] * len(fixes)
    for i in range(1, len(fixes)):
        a, b = fixes[i - 1], fixes[i]
        steps[i] = haversine_m(a.latitude, a.longitude, b.latitude, b.longitude)
    return steps


def _is_gap(fixes: Sequence[Fix], i: int, settings: DetectionSettings) -> bool:
    """Is there a data gap between fix i-1 and fix i?"""
    return fixes[i].timestamp - fixes[i - 1].timestamp > settings.gap_seconds


def _moving_flags(
    fixes: Sequence[Fix], steps: Sequence[float], settings: DetectionSettings
) -> list[bool]:
    flags = []
    for i, fix in enumerate(fixes):
        if settings.use_ignition and fix.ignition is False:
            flags.append(False)
            continue
        speed = fix.speed_kmh
        if speed is None:
            elapsed = fix.timestamp - fixes[i - 1].timestamp if i else 0.0
            speed = steps[i] / elapsed * 3.6 if elapsed > 0 else 0.0
        flags.append(speed >= settings.moving_speed_kmh)
    return flags


def _candidate_runs(
    fixes: Sequence[Fix], flags: Sequence[bool], settings: DetectionSettings
) -> list[tuple[int, int]]:
    """(first, last) index of each trip candidate, boundary still fixes included."""
    runs: list[tuple[int, int]] = []
    i, n = 0, len(fixes)
    while i < n:
        if not flags[i]:
            i += 1
            continue
        first = i - 1 if i > 0 and not _is_gap(fixes, i, settings) else i
        last = i
        while last + 1 < n and flags[last + 1] and not _is_gap(fixes, last + 1, settings):
            last += 1
        if last + 1 < n and not _is_gap(fixes, last + 1, settings):
            last += 1  # the first still fix after the run: where the vehicle arrived
        runs.append((first, last))
        i = last + 1
    return runs


def _leaves_start(fixes: Sequence[Fix], first: int, last: int, radius_m: float) -> bool:
    origin = fixes[first]
    return any(
        haversine_m(origin.latitude, origin.longitude, f.latitude, f.longitude) > radius_m
        for f in fixes[first + 1 : last + 1]
    )


def _is_real_trip(
    fixes: Sequence[Fix], steps: Sequence[float], run: tuple[int, int], settings: DetectionSettings
) -> bool:
    first, last = run
    if fixes[last].timestamp - fixes[first].timestamp < settings.min_trip_seconds:
        return False
    if sum(steps[first + 1 : last + 1]) < settings.min_trip_distance_m:
        return False
    return _leaves_start(fixes, first, last, settings.stop_radius_m)


def _merge_close(
    fixes: Sequence[Fix], runs: list[tuple[int, int]], settings: DetectionSettings
) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last in runs:
        if merged:
            previous_first, previous_last = merged[-1]
            pause = fixes[first].timestamp - fixes[previous_last].timestamp
            gap_between = any(
                _is_gap(fixes, i, settings) for i in range(previous_last + 1, first + 1)
            )
            if pause < settings.min_stop_seconds and not gap_between:
                merged[-1] = (previous_first, last)
                continue
        merged.append((first, last))
    return merged


def trips_detect(
    fixes: Sequence[Fix], settings: DetectionSettings, steps: Sequence[float] | None = None
) -> list[Trip]:
    """The trips of a track sorted by time (see the module's docstring for the rules);
    `steps`: its `step_distances`, when the caller has them."""
    if len(fixes) < 2:
        return []
    steps = step_distances(fixes) if steps is None else steps
    flags = _moving_flags(fixes, steps, settings)
    kept = [
        run
        for run in _candidate_runs(fixes, flags, settings)
        if _is_real_trip(fixes, steps, run, settings)
    ]
    return [
        Trip(
            start_index=first,
            end_index=last,
            start_time=fixes[first].timestamp,
            end_time=fixes[last].timestamp,
            distance_m=sum(steps[first + 1 : last + 1]),
            max_speed_kmh=max((f.speed_kmh or 0.0) for f in fixes[first : last + 1]),
        )
        for first, last in _merge_close(fixes, kept, settings)
    ]


def _still_stretches(
    fixes: Sequence[Fix], trips: Sequence[Trip], settings: DetectionSettings
) -> list[tuple[int, int]]:
    """(first, last) index of the time between trips, split at gaps where the vehicle moved."""
    bounds = [0]
    for trip in trips:
        bounds += [trip.start_index, trip.end_index]
    bounds.append(len(fixes) - 1)
    stretches: list[tuple[int, int]] = []
    for k in range(0, len(bounds), 2):
        first, last = bounds[k], bounds[k + 1]
        start = first
        for i in range(first + 1, last + 1):
            if _is_gap(fixes, i, settings) and not _same_place(fixes, i - 1, i, settings):
                stretches.append((start, i - 1))
                start = i
        stretches.append((start, last))
    return [(a, b) for a, b in stretches if b > a]


def _same_place(fixes: Sequence[Fix], i: int, j: int, settings: DetectionSettings) -> bool:
    a, b = fixes[i], fixes[j]
    return haversine_m(a.latitude, a.longitude, b.latitude, b.longitude) <= settings.stop_radius_m


def stops_detect(
    fixes: Sequence[Fix], settings: DetectionSettings, trips: Sequence[Trip] | None = None
) -> list[Stop]:
    """The stops of a track: still stretches between trips lasting `min_stop_seconds` or more."""
    if len(fixes) < 2:
        return []
    trips = trips_detect(fixes, settings) if trips is None else trips
    stops = []
    for first, last in _still_stretches(fixes, trips, settings):
        if fixes[last].timestamp - fixes[first].timestamp < settings.min_stop_seconds:
            continue
        # The median fix is where the vehicle stood; jitter and the arrival fix pull a mean away.
        middle = sorted(fixes[first : last + 1], key=lambda f: (f.latitude, f.longitude))
        centre = middle[len(middle) // 2]
        stops.append(
            Stop(
                start_index=first,
                end_index=last,
                start_time=fixes[first].timestamp,
                end_time=fixes[last].timestamp,
                latitude=centre.latitude,
                longitude=centre.longitude,
                engine_on=all(f.ignition is True for f in fixes[first : last + 1]),
            )
        )
    return stops


def track_summarize(
    fixes: Sequence[Fix], settings: DetectionSettings, steps: Sequence[float] | None = None
) -> TrackSummary:
    """Trips, stops and the day's time split: moving (in trips), stopped (in stops with the
    engine off or unknown) and idle (still outside stops, and stops with the engine running).
    Time across a data gap counts as none of them, except inside a stop that spans it."""
    trips = trips_detect(fixes, settings, steps)
    stops = stops_detect(fixes, settings, trips)
    moving = sum(t.duration_seconds for t in trips)
    stopped = sum(s.duration_seconds for s in stops if not s.engine_on)
    engine_idle = sum(s.duration_seconds for s in stops if s.engine_on)
    covered = [False] * len(fixes)  # interval i-1 -> i belongs to a trip or a stop
    spans = [(t.start_index, t.end_index) for t in trips]
    spans += [(s.start_index, s.end_index) for s in stops]
    for first, last in spans:
        for i in range(first + 1, last + 1):
            covered[i] = True
    loose_still = sum(
        fixes[i].timestamp - fixes[i - 1].timestamp
        for i in range(1, len(fixes))
        if not covered[i] and not _is_gap(fixes, i, settings)
    )
    return TrackSummary(
        distance_m=sum(t.distance_m for t in trips),
        moving_seconds=moving,
        idle_seconds=engine_idle + loose_still,
        stopped_seconds=stopped,
        max_speed_kmh=max((f.speed_kmh or 0.0 for f in fixes), default=0.0),
        trips=tuple(trips),
        stops=tuple(stops),
    )
