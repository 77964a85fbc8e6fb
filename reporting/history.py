"""The history page's data: one vehicle's local day as one compact JSON document.

Columns, not one object per fix: 8,640 fixes of a day at 10 s are ~250 kB this way instead of
~1 MB, and the browser reads them straight into typed arrays (docs/history.md has the shape).
Times are seconds from the start of the local day, so they stay small and the page needs no
date parsing per fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .selectors import LocalDay, TrackColumns
from .trips import DetectionSettings, Stop, Trip, track_summarize

COORDINATE_DECIMALS = 6  # ~0.1 m


def _offset(timestamp: float, origin: float) -> float | int:
    value = round(timestamp - origin, 3)
    return int(value) if value == int(value) else value


def _rounded(values: Sequence[float | None], decimals: int) -> list[float | None]:
    return [None if v is None else round(v, decimals) for v in values]


def _trip_json(trip: Trip, origin: float) -> dict[str, Any]:
    return {
        "start": _offset(trip.start_time, origin),
        "end": _offset(trip.end_time, origin),
        "startIndex": trip.start_index,
        "endIndex": trip.end_index,
        "distanceM": round(trip.distance_m),
        "maxSpeedKmh": round(trip.max_speed_kmh, 1),
    }


def _stop_json(stop: Stop, origin: float) -> dict[str, Any]:
    return {
        "start": _offset(stop.start_time, origin),
        "end": _offset(stop.end_time, origin),
        "startIndex": stop.start_index,
        "endIndex": stop.end_index,
        "lat": round(stop.latitude, COORDINATE_DECIMALS),
        "lon": round(stop.longitude, COORDINATE_DECIMALS),
        "engineOn": stop.engine_on,
    }


def _event_json(event: dict[str, Any], origin: float) -> dict[str, Any]:
    item = {key: value for key, value in event.items() if key not in ("timestamp",)}
    item["t"] = _offset(event["timestamp"], origin)
    lat, lon = item.pop("latitude"), item.pop("longitude")
    item["lat"] = None if lat is None else round(lat, COORDINATE_DECIMALS)
    item["lon"] = None if lon is None else round(lon, COORDINATE_DECIMALS)
    return item


def vehicle_day_payload(
    *,
    vehicle: dict[str, Any],
    day: LocalDay,
    track: TrackColumns,
    settings: DetectionSettings,
    events: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    origin = day.start.timestamp()
    summary = track_summarize(track.fixes(), settings)
    return {
        "vehicle": vehicle,
        "day": day.day.isoformat(),
        "timezone": day.timezone,
        "dayStart": origin,
        "dayEnd": day.end.timestamp(),
        "fixCount": len(track),
        "fixes": {
            "t": [_offset(t, origin) for t in track.timestamp],
            "lat": _rounded(track.latitude, COORDINATE_DECIMALS),
            "lon": _rounded(track.longitude, COORDINATE_DECIMALS),
            "speed": _rounded(track.speed_kmh, 1),
            "heading": _rounded(track.heading, 0),
            "ignition": track.ignition,
        },
        "trips": [_trip_json(t, origin) for t in summary.trips],
        "stops": [_stop_json(s, origin) for s in summary.stops],
        "events": [_event_json(e, origin) for e in events],
        "summary": {
            "distanceM": round(summary.distance_m),
            "movingSeconds": round(summary.moving_seconds),
            "idleSeconds": round(summary.idle_seconds),
            "stoppedSeconds": round(summary.stopped_seconds),
            "maxSpeedKmh": round(summary.max_speed_kmh, 1),
            "trips": len(summary.trips),
            "stops": len(summary.stops),
        },
        "settings": {
            "gapSeconds": settings.gap_seconds,
            "minStopSeconds": settings.min_stop_seconds,
        },
    }
