"""Decoding fixes from the wire: the OsmAnd protocol (query/form and its JSON variant) and the
JSON batch API. Pure functions: bytes and dicts in, `Fix` out; no Django, no database."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

KNOT_KMH = 1.852
SPEED_TO_KMH = {"kn": KNOT_KMH, "kmh": 1.0, "ms": 3.6, "mph": 1.609344}

# Parameters with a meaning of their own; every other parameter becomes a typed attribute.
KNOWN_PARAMS = frozenset(
    {
        "id",
        "deviceid",
        "timestamp",
        "lat",
        "lon",
        "location",
        "speed",
        "bearing",
        "heading",
        "altitude",
        "accuracy",
        "batt",
        "token",
        "ignition",
        "odometer",
    }
)


class DecodeError(ValueError):
    """The request cannot be read as a fix at all (answered 400)."""


@dataclass(slots=True)
class Fix:
    device_key: str
    fix_time: dt.datetime
    latitude: float
    longitude: float
    speed_kmh: float | None = None
    heading: float | None = None
    accuracy_m: float | None = None
    altitude_m: float | None = None
    odometer_m: float | None = None
    battery_pct: float | None = None
    ignition: bool | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    token: str | None = None

    def as_payload(self) -> dict[str, Any]:
        """A JSON-safe copy, kept with a refused fix for the data-health view."""
        return {
            "fix_time": self.fix_time.isoformat(),
            "lat": None if math.isnan(self.latitude) else self.latitude,
            "lon": None if math.isnan(self.longitude) else self.longitude,
            "speed_kmh": self.speed_kmh,
            "accuracy_m": self.accuracy_m,
        }


def parse_time(raw: str | None, *, now: dt.datetime) -> dt.datetime:
    """Unix seconds, Unix milliseconds, ISO-8601, or `yyyy-MM-dd HH:mm:ss` (UTC when naive)."""
    if raw is None or raw == "":
        return now
    raw = raw.strip()
    try:
        number = float(raw)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise DecodeError(f"invalid timestamp {raw!r}")
        # Milliseconds since 1970 pass 1e12 in 2001; seconds will not reach it for 30,000 years.
        seconds = number / 1000.0 if abs(number) >= 1e11 else number
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise DecodeError(f"timestamp out of range {raw!r}") from exc
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DecodeError(f"unreadable timestamp {raw!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _float(raw: Any) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _coordinate(raw: Any) -> float:
    # An unreadable coordinate becomes NaN, which the filters refuse and record (data health).
    if raw is None or raw == "" or isinstance(raw, bool):
        return math.nan
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


def _non_negative(raw: Any) -> float | None:
    """Speed and heading: a negative value means "unknown"."""
    value = _float(raw)
    return None if value is None or value < 0 else value


def _bool(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if raw is None:
        return None
    text = str(raw).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    return None


def typed_attribute(raw: str) -> bool | int | float | str:
    lowered = raw.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    value = _float(raw)
    return value if value is not None else raw


def osmand_from_params(params: dict[str, str], *, now: dt.datetime, speed_unit: str = "kn") -> Fix:
    """One OsmAnd fix from query or form parameters (the last value of a repeated key wins)."""
    device_key = (params.get("id") or params.get("deviceid") or "").strip()
    if not device_key:
        raise DecodeError("missing device id (id or deviceid)")
    lat_raw: str | None
    lon_raw: str | None
    if "location" in params and "lat" not in params:
        lat_raw, _, lon_raw = params["location"].partition(",")
    else:
        lat_raw, lon_raw = params.get("lat"), params.get("lon")
    if lat_raw is None or lon_raw is None:
        raise DecodeError("missing position (lat and lon, or location=lat,lon)")
    speed = _non_negative(params.get("speed"))
    attributes: dict[str, Any] = {
        key: typed_attribute(value) for key, value in params.items() if key not in KNOWN_PARAMS
    }
    if "valid" in attributes:
        attributes["valid"] = _bool(params["valid"])
    if "charge" in attributes:
        attributes["charge"] = _bool(params["charge"])
    return Fix(
        device_key=device_key,
        fix_time=parse_time(params.get("timestamp"), now=now),
        latitude=_coordinate(lat_raw),
        longitude=_coordinate(lon_raw),
        speed_kmh=None if speed is None else speed * SPEED_TO_KMH.get(speed_unit, KNOT_KMH),
        heading=_non_negative(params.get("bearing", params.get("heading"))),
        accuracy_m=_float(params.get("accuracy")),
        altitude_m=_float(params.get("altitude")),
        odometer_m=_float(params.get("odometer")),
        battery_pct=_float(params.get("batt")),
        ignition=_bool(params.get("ignition")),
        attributes=attributes,
        token=params.get("token") or None,
    )


def query_params(raw: bytes) -> dict[str, str]:
    """Query or form parameters (the last value of a repeated key wins). Hand-rolled because
    it runs once per fix: urllib's parse_qsl costs several times more, and tracker parameters
    are rarely percent-encoded, so most parts skip unquoting entirely."""
    params: dict[str, str] = {}
    for part in raw.decode("utf-8", errors="replace").split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "%" in part or "+" in part:
            key, value = unquote_plus(key), unquote_plus(value)
        params[key] = value
    return params


def osmand_from_json(body: dict[str, Any], *, now: dt.datetime) -> list[Fix]:
    """The JSON variant (Transistorsoft background-geolocation, as Traccar accepts it)."""
    if not isinstance(body, dict):
        raise DecodeError("JSON body must be an object")
    device_key = str(body.get("device_id") or body.get("id") or "").strip()
    if not device_key:
        raise DecodeError("missing device_id")
    locations = body.get("location")
    if isinstance(locations, dict):
        locations = [locations]
    if not isinstance(locations, list) or not locations:
        raise DecodeError("missing location")
    fixes = []
    for location in locations:
        if not isinstance(location, dict):
            raise DecodeError("each location must be an object")
        coords = location.get("coords")
        if not isinstance(coords, dict):
            raise DecodeError("location.coords missing")
        battery_raw = location.get("battery")
        battery: dict[str, Any] = battery_raw if isinstance(battery_raw, dict) else {}
        level = _float(battery.get("level"))
        attributes: dict[str, Any] = {}
        for key in ("is_moving", "event", "activity", "uuid"):
            if key in location:
                attributes[key] = location[key]
        if "is_charging" in battery:
            attributes["charge"] = _bool(battery["is_charging"])
        extras = location.get("extras")
        if isinstance(extras, dict):
            attributes.update(extras)
        speed = _non_negative(coords.get("speed"))
        timestamp = location.get("timestamp")
        fixes.append(
            Fix(
                device_key=device_key,
                fix_time=parse_time(None if timestamp is None else str(timestamp), now=now),
                latitude=_coordinate(coords.get("latitude")),
                longitude=_coordinate(coords.get("longitude")),
                speed_kmh=None if speed is None else speed * 3.6,
                heading=_non_negative(coords.get("heading")),
                accuracy_m=_float(coords.get("accuracy")),
                altitude_m=_float(coords.get("altitude")),
                odometer_m=_float(location.get("odometer")),
                battery_pct=None if level is None or level < 0 else round(level * 100, 1),
                attributes=attributes,
                token=str(body["token"]) if body.get("token") else None,
            )
        )
    return fixes


def batch_fix(item: Any, *, now: dt.datetime) -> Fix:
    """One fix of the JSON batch API: flat keys, speed in km/h."""
    if not isinstance(item, dict):
        raise DecodeError("each fix must be an object")
    device_key = str(item.get("device_id") or "").strip()
    if not device_key:
        raise DecodeError("missing device_id")
    if "lat" not in item or "lon" not in item:
        raise DecodeError("missing lat/lon")
    timestamp = item.get("timestamp")
    attributes_raw = item.get("attributes")
    attributes: dict[str, Any] = attributes_raw if isinstance(attributes_raw, dict) else {}
    return Fix(
        device_key=device_key,
        fix_time=parse_time(None if timestamp is None else str(timestamp), now=now),
        latitude=_coordinate(item.get("lat")),
        longitude=_coordinate(item.get("lon")),
        speed_kmh=_non_negative(item.get("speed_kmh")),
        heading=_non_negative(item.get("heading")),
        accuracy_m=_float(item.get("accuracy_m")),
        altitude_m=_float(item.get("altitude_m")),
        odometer_m=_float(item.get("odometer_m")),
        battery_pct=_float(item.get("battery_pct")),
        ignition=_bool(item.get("ignition")),
        attributes=dict(attributes),
    )
