"""A live-map screen's filter: parsed once per subscribe, then applied to every vehicle update.
Pure: vehicle dicts in, booleans out (the same `V` dicts the websocket sends)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import Point, shape
from shapely.prepared import PreparedGeometry, prep

STATUSES = frozenset({"moving", "idle", "stopped", "offline"})
INTERVALS = (0, 1, 5, 15, 30, 60)


class FilterError(ValueError):
    pass


@dataclass
class LiveFilter:
    statuses: frozenset[str] = frozenset()
    hub_ids: frozenset[int] = frozenset()
    area: PreparedGeometry | None = None
    stale_minutes: float | None = None
    tags: frozenset[str] = frozenset()
    text: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return (
            not (self.statuses or self.hub_ids or self.area is not None or self.tags or self.text)
            and self.stale_minutes is None
        )

    def matches(self, vehicle: dict[str, Any], *, now: dt.datetime) -> bool:
        if self.statuses and vehicle.get("status") not in self.statuses:
            return False
        if self.hub_ids and vehicle.get("hub_id") not in self.hub_ids:
            return False
        if self.tags and not self.tags.intersection(vehicle.get("tags") or ()):
            return False
        if self.text and not any(
            self.text in str(vehicle.get(key) or "").lower()
            for key in ("plate", "name", "driver", "device")
        ):
            return False
        lat, lon = vehicle.get("lat"), vehicle.get("lon")
        if self.area is not None and (lat is None or not self.area.contains(Point(lon, lat))):
            return False
        if self.stale_minutes is not None:
            fix_time = vehicle.get("fix_time")
            if fix_time is not None:
                age = now - dt.datetime.fromisoformat(fix_time)
                if age < dt.timedelta(minutes=self.stale_minutes):
                    return False
        return True


def _int_set(value: Any, name: str) -> frozenset[int]:
    if value in (None, "", []):
        return frozenset()
    if not isinstance(value, list):
        value = [value]
    try:
        return frozenset(int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise FilterError(f"{name} must be a list of ids") from exc


def _polygon(geometry: Any) -> PreparedGeometry:
    from fleet.models.hubs import validate_polygon_geojson

    try:
        validate_polygon_geojson(geometry)
        return prep(shape(geometry))
    except Exception as exc:
        raise FilterError(f"polygon: {exc}") from exc


def live_filter_parse(raw: Any, *, zone_geometries: dict[int, dict[str, Any]]) -> LiveFilter:
    """Validate a screen's filter dict (see docs/live-map.md). `zone_geometries` holds only the
    screen's own organization's zones, so a foreign zone id is simply unknown."""
    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, dict):
        raise FilterError("filters must be an object")
    statuses = raw.get("status") or []
    if isinstance(statuses, str):
        statuses = [statuses]
    if not isinstance(statuses, list) or not set(statuses) <= STATUSES:
        raise FilterError(f"status must be among {sorted(STATUSES)}")
    area = None
    zone = raw.get("zone")
    if zone not in (None, ""):
        try:
            geometry = zone_geometries[int(zone)]
        except (KeyError, TypeError, ValueError) as exc:
            raise FilterError("unknown zone") from exc
        area = _polygon(geometry)
    if raw.get("polygon"):
        area = _polygon(raw["polygon"])
    stale = raw.get("stale_minutes")
    try:
        stale_minutes = None if stale in (None, "", 0, "0") else float(stale)
    except (TypeError, ValueError) as exc:
        raise FilterError("stale_minutes must be a number") from exc
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list):
        raise FilterError("tags must be a list")
    text = raw.get("q") or ""
    if not isinstance(text, str):
        raise FilterError("q must be text")
    return LiveFilter(
        statuses=frozenset(statuses),
        hub_ids=_int_set(raw.get("hubs"), "hubs"),
        area=area,
        stale_minutes=stale_minutes,
        tags=frozenset(str(t) for t in tags),
        text=text.strip().lower()[:100],
        raw=raw,
    )


def interval_parse(raw: Any) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise FilterError(f"interval must be one of {INTERVALS}") from exc
    if value not in INTERVALS:
        raise FilterError(f"interval must be one of {INTERVALS}")
    return value
