"""Decoding fixes from the wire: the OsmAnd protocol (query/form and its JSON variant) and the
JSON batch API. Pure functions: bytes and dicts in, `Fix` out; no Django, no database."""

from __future__ import annotations

import datetime as dt
import json
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


# Caps on what a fix may carry besides its position. A fix over a cap is refused with reason
# `invalid_value` (recorded in data health) rather than truncated: a silently shortened
# attribute would be wrong evidence, and a tracker that always overflows shows up at once.
MAX_ATTRIBUTE_KEYS = 64  # keys and list items, counted at every level
MAX_ATTRIBUTE_KEY_LENGTH = 64
MAX_ATTRIBUTE_TEXT_LENGTH = 1024
MAX_ATTRIBUTE_DEPTH = 8
MAX_ATTRIBUTES_BYTES = 8192  # the encoded JSON
INVALID_VALUE = "invalid_value"

# Optional measurements outside these ranges (or not finite) are unknown, like a negative speed.
SPEED_KMH_MAX = 2000.0
HEADING_MAX = 360.0
MEASUREMENT_MAX = 1e9


class InvalidValue(ValueError):
    """A value PostgreSQL or a JSON reader downstream cannot take (NaN, NUL, lone surrogate,
    over a cap): the fix is refused with reason `invalid_value` and this detail."""


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
    # Set by the decoder when a value cannot be stored: (reason, detail), as the filters return.
    refusal: tuple[str, str] | None = None
    # The attributes as checked JSON text, encoded once by the decoder for the writer's COPY
    # (None: not checked, the writer encodes them itself).
    attributes_json: str | None = None

    def as_payload(self) -> dict[str, Any]:
        """A JSON-safe copy, kept with a refused fix for the data-health view."""
        return {
            "fix_time": self.fix_time.isoformat(),
            "lat": _finite_or_none(self.latitude),
            "lon": _finite_or_none(self.longitude),
            "speed_kmh": _finite_or_none(self.speed_kmh),
            "accuracy_m": _finite_or_none(self.accuracy_m),
        }

    def check_attributes(self) -> Fix:
        """Encode the attributes once; a fix whose attributes cannot be stored is refused and
        keeps none of them, so nothing poisonous travels on towards the database."""
        try:
            self.attributes_json = attributes_encode(self.attributes)
        except InvalidValue as exc:
            self.refusal = (INVALID_VALUE, str(exc))
            self.attributes, self.attributes_json = {}, "{}"
        return self


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _text_problem(text: str, what: str) -> str | None:
    if "\x00" in text:
        return f"{what} contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"{what} is not valid Unicode (lone surrogate)"
    return None


def _value_problem(value: Any, depth: int, budget: list[int]) -> str | None:
    """Why `value` cannot be stored as JSONB, or None. `budget` counts keys and items left."""
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"attribute number {value!r} is not finite"
    if isinstance(value, str):
        if len(value) > MAX_ATTRIBUTE_TEXT_LENGTH:
            return f"attribute text longer than {MAX_ATTRIBUTE_TEXT_LENGTH} characters"
        return _text_problem(value, "attribute text")
    if depth >= MAX_ATTRIBUTE_DEPTH:
        return f"attributes nested deeper than {MAX_ATTRIBUTE_DEPTH} levels"
    if isinstance(value, dict):
        budget[0] -= len(value)
        if budget[0] < 0:
            return f"more than {MAX_ATTRIBUTE_KEYS} attribute keys"
        for key, item in value.items():
            if not isinstance(key, str):
                return "attribute keys must be text"
            if len(key) > MAX_ATTRIBUTE_KEY_LENGTH:
                return f"attribute key longer than {MAX_ATTRIBUTE_KEY_LENGTH} characters"
            problem = _text_problem(key, "attribute key") or _value_problem(item, depth + 1, budget)
            if problem:
                return problem
        return None
    if isinstance(value, list):
        budget[0] -= len(value)
        if budget[0] < 0:
            return f"more than {MAX_ATTRIBUTE_KEYS} attribute keys"
        for item in value:
            problem = _value_problem(item, depth + 1, budget)
            if problem:
                return problem
        return None
    return f"attribute of unsupported type {type(value).__name__}"


def attributes_encode(attributes: dict[str, Any]) -> str:
    """The attributes as JSON text PostgreSQL's jsonb accepts; raises InvalidValue why not."""
    if not attributes:
        return "{}"
    if not _flat_and_clean(attributes):  # the common case (OsmAnd query) skips the walk
        problem = _value_problem(attributes, 0, [MAX_ATTRIBUTE_KEYS])
        if problem:
            raise InvalidValue(problem)
    # ASCII output (non-ASCII escaped): its length is its size in bytes.
    text = json.dumps(attributes, allow_nan=False)
    if len(text) > MAX_ATTRIBUTES_BYTES:
        raise InvalidValue(f"attributes over {MAX_ATTRIBUTES_BYTES} bytes encoded")
    return text


def _flat_and_clean(attributes: dict[str, Any]) -> bool:
    """Few keys, short ASCII keys and texts without NUL, finite numbers: nothing to look into."""
    if len(attributes) > MAX_ATTRIBUTE_KEYS:
        return False
    for key, value in attributes.items():
        if not (key.__class__ is str and len(key) <= MAX_ATTRIBUTE_KEY_LENGTH and key.isascii()):
            return False
        if "\x00" in key:
            return False
        kind = value.__class__
        if kind is str:
            if len(value) > MAX_ATTRIBUTE_TEXT_LENGTH or not value.isascii() or "\x00" in value:
                return False
        elif kind is float:
            if not math.isfinite(value):
                return False
        elif not (kind is bool or kind is int or value is None):
            return False
    return True


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


def _within(value: float | None, low: float, high: float) -> float | None:
    """A measurement outside what any vehicle reports is unknown, not a number to store."""
    return value if value is not None and low <= value <= high else None


def _measure(raw: Any) -> float | None:
    return _within(_float(raw), -MEASUREMENT_MAX, MEASUREMENT_MAX)


def _heading(raw: Any) -> float | None:
    return _within(_non_negative(raw), 0.0, HEADING_MAX)


def _speed_kmh(value: float | None, factor: float) -> float | None:
    return None if value is None else _within(value * factor, 0.0, SPEED_KMH_MAX)


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
        speed_kmh=_speed_kmh(speed, SPEED_TO_KMH.get(speed_unit, KNOT_KMH)),
        heading=_heading(params.get("bearing", params.get("heading"))),
        accuracy_m=_measure(params.get("accuracy")),
        altitude_m=_measure(params.get("altitude")),
        odometer_m=_measure(params.get("odometer")),
        battery_pct=_measure(params.get("batt")),
        ignition=_bool(params.get("ignition")),
        attributes=attributes,
        token=params.get("token") or None,
    ).check_attributes()


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
                speed_kmh=_speed_kmh(speed, 3.6),
                heading=_heading(coords.get("heading")),
                accuracy_m=_measure(coords.get("accuracy")),
                altitude_m=_measure(coords.get("altitude")),
                odometer_m=_measure(location.get("odometer")),
                battery_pct=None if level is None or level < 0 else _measure(round(level * 100, 1)),
                attributes=attributes,
                token=str(body["token"]) if body.get("token") else None,
            ).check_attributes()
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
        speed_kmh=_speed_kmh(_non_negative(item.get("speed_kmh")), 1.0),
        heading=_heading(item.get("heading")),
        accuracy_m=_measure(item.get("accuracy_m")),
        altitude_m=_measure(item.get("altitude_m")),
        odometer_m=_measure(item.get("odometer_m")),
        battery_pct=_measure(item.get("battery_pct")),
        ignition=_bool(item.get("ignition")),
        attributes=dict(attributes),
    ).check_attributes()
