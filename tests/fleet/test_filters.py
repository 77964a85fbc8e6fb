"""Each position filter and the status derivation (pure, no database)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from fleet.ingest.filters import LastFix, Limits, derive_status, fix_refusal, next_stationary_since

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
LIMITS = Limits(max_future_seconds=300, max_age_seconds=86400, max_accuracy_m=100, max_jump_kmh=200)


def refusal(
    lat: float = 52.37,
    lon: float = 4.89,
    *,
    seconds_ago: float = 5,
    accuracy: float | None = 5,
    previous: LastFix | None = None,
) -> str | None:
    result = fix_refusal(
        latitude=lat,
        longitude=lon,
        fix_time=NOW - dt.timedelta(seconds=seconds_ago),
        accuracy_m=accuracy,
        now=NOW,
        limits=LIMITS,
        previous=previous,
    )
    return result[0] if result else None


def test_a_good_fix_passes() -> None:
    assert refusal() is None


@pytest.mark.parametrize(
    ("lat", "lon"), [(91, 0), (-91, 0), (10, 181), (10, -181), (math.nan, 4), (4, math.inf)]
)
def test_invalid_coordinates(lat: float, lon: float) -> None:
    assert refusal(lat, lon) == "invalid_coordinates"


def test_null_island() -> None:
    assert refusal(0, 0) == "null_island"


def test_too_far_in_the_future() -> None:
    assert refusal(seconds_ago=-301) == "future"
    assert refusal(seconds_ago=-299) is None


def test_too_old() -> None:
    assert refusal(seconds_ago=86401) == "too_old"


def test_accuracy_worse_than_limit() -> None:
    assert refusal(accuracy=101) == "low_accuracy"
    assert refusal(accuracy=None) is None


def test_implied_speed_jump() -> None:
    previous = LastFix(NOW - dt.timedelta(seconds=15), 52.37, 4.89, None)
    # ~11 km in 10 s: ~4,000 km/h.
    assert refusal(52.47, 4.89, previous=previous) == "speed_jump"
    # ~100 m in 10 s: 36 km/h.
    assert refusal(52.3709, 4.89, previous=previous) is None


def test_out_of_order_fix_is_not_judged_by_jump() -> None:
    previous = LastFix(NOW, 52.37, 4.89, None)
    assert refusal(52.47, 4.89, seconds_ago=60, previous=previous) is None


def status(
    speed: float | None, *, age: float = 5, standing: float | None = 0, ignition: bool | None = None
) -> str:
    fix_time = NOW - dt.timedelta(seconds=age)
    since = None if standing is None else fix_time - dt.timedelta(seconds=standing)
    return derive_status(
        speed_kmh=speed,
        ignition=ignition,
        fix_time=fix_time,
        stationary_since=since,
        now=NOW,
        limits=Limits(moving_speed_kmh=5, stopped_after_seconds=300, offline_after_seconds=600),
    )


def test_status_derivation() -> None:
    assert status(30, standing=None) == "moving"
    assert status(1, standing=60) == "idle"
    assert status(1, standing=301) == "stopped"
    assert status(0, standing=10, ignition=False) == "stopped"
    assert status(30, age=601) == "offline"


def test_stationary_since_carries_over_and_resets_when_moving() -> None:
    earlier = NOW - dt.timedelta(minutes=3)
    previous = LastFix(earlier, 1, 1, earlier)
    assert (
        next_stationary_since(speed_kmh=0, fix_time=NOW, previous=previous, limits=Limits())
        == earlier
    )
    assert (
        next_stationary_since(speed_kmh=40, fix_time=NOW, previous=previous, limits=Limits())
        is None
    )
    assert (
        next_stationary_since(speed_kmh=None, fix_time=NOW, previous=None, limits=Limits()) == NOW
    )
