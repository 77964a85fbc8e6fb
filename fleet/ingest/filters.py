"""Position filters and status derivation: pure functions over plain values."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from fleet.geo import haversine_m


@dataclass(frozen=True, slots=True)
class Limits:
    max_future_seconds: float = 300
    max_age_seconds: float = 7 * 24 * 3600
    max_accuracy_m: float = 500
    max_jump_kmh: float = 250
    moving_speed_kmh: float = 5
    stopped_after_seconds: float = 300
    offline_after_seconds: float = 600


@dataclass(slots=True)
class LastFix:
    """What the ingest path remembers per vehicle between fixes."""

    fix_time: dt.datetime
    latitude: float
    longitude: float
    stationary_since: dt.datetime | None


def fix_refusal(
    *,
    latitude: float,
    longitude: float,
    fix_time: dt.datetime,
    accuracy_m: float | None,
    now: dt.datetime,
    limits: Limits,
    previous: LastFix | None,
) -> tuple[str, str] | None:
    """(reason, detail) when a fix must be refused, else None. Reasons match RejectedFix.Reason."""
    if not (math.isfinite(latitude) and math.isfinite(longitude)) or not (
        -90 <= latitude <= 90 and -180 <= longitude <= 180
    ):
        return "invalid_coordinates", f"lat={latitude} lon={longitude}"
    if latitude == 0 and longitude == 0:
        return "null_island", "lat=0 lon=0"
    ahead = (fix_time - now).total_seconds()
    if ahead > limits.max_future_seconds:
        return "future", f"{ahead:.0f} s ahead of server time"
    age = -ahead
    if age > limits.max_age_seconds:
        return "too_old", f"{age:.0f} s old"
    if accuracy_m is not None and accuracy_m > limits.max_accuracy_m:
        return "low_accuracy", f"accuracy {accuracy_m:.0f} m > {limits.max_accuracy_m:.0f} m"
    if previous is not None and fix_time > previous.fix_time:
        seconds = (fix_time - previous.fix_time).total_seconds()
        metres = haversine_m(previous.latitude, previous.longitude, latitude, longitude)
        kmh = metres / seconds * 3.6
        # A short hop can look fast from rounding of timestamps; only large jumps count.
        if kmh > limits.max_jump_kmh and metres > 200:
            return "speed_jump", f"{kmh:.0f} km/h implied over {metres:.0f} m"
    return None


def next_stationary_since(
    *, speed_kmh: float | None, fix_time: dt.datetime, previous: LastFix | None, limits: Limits
) -> dt.datetime | None:
    if speed_kmh is not None and speed_kmh >= limits.moving_speed_kmh:
        return None
    if previous is not None and previous.stationary_since is not None:
        return previous.stationary_since
    return fix_time


def derive_status(
    *,
    speed_kmh: float | None,
    ignition: bool | None,
    fix_time: dt.datetime,
    stationary_since: dt.datetime | None,
    now: dt.datetime,
    limits: Limits,
) -> str:
    """moving / idle / stopped / offline, from the last fix and how long it has stood still."""
    if (now - fix_time).total_seconds() > limits.offline_after_seconds:
        return "offline"
    if speed_kmh is not None and speed_kmh >= limits.moving_speed_kmh:
        return "moving"
    if ignition is False:
        return "stopped"
    standing = 0.0 if stationary_since is None else (fix_time - stationary_since).total_seconds()
    return "idle" if standing < limits.stopped_after_seconds else "stopped"
