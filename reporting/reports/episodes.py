"""Speeding episodes and geofence visits in a track: pure functions on fixes, no database.

A speeding episode is a run of fixes above the threshold; a data gap longer than
`gap_seconds` ends it (the daily rollups count the same episodes). A geofence visit is a run
of fixes inside one zone's polygon; a gap ends it too, so a tracker that was off is never
"inside" for the hours it said nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shapely import MultiPolygon, Point, Polygon, prepared

from ..trips import Fix


@dataclass(frozen=True, slots=True)
class SpeedingEpisode:
    start_time: float
    end_time: float
    max_speed_kmh: float
    latitude: float  # where the top speed was reached
    longitude: float


def speeding_episodes(
    fixes: Sequence[Fix], *, threshold_kmh: float, gap_seconds: float
) -> list[SpeedingEpisode]:
    episodes: list[SpeedingEpisode] = []
    run: list[Fix] = []

    def close() -> None:
        if run:
            top = max(run, key=lambda fix: fix.speed_kmh or 0.0)
            episodes.append(
                SpeedingEpisode(
                    run[0].timestamp,
                    run[-1].timestamp,
                    top.speed_kmh or 0.0,
                    top.latitude,
                    top.longitude,
                )
            )
            run.clear()

    previous: Fix | None = None
    for fix in fixes:
        if previous is not None and fix.timestamp - previous.timestamp > gap_seconds:
            close()
        if fix.speed_kmh is not None and fix.speed_kmh > threshold_kmh:
            run.append(fix)
        else:
            close()
        previous = fix
    close()
    return episodes


@dataclass(frozen=True, slots=True)
class ZoneVisit:
    zone_id: int
    start_time: float  # the first fix inside
    end_time: float  # the last fix inside
    fixes: int

    @property
    def duration_seconds(self) -> float:
        return self.end_time - self.start_time


def polygon_of(geometry: dict[str, object]) -> Polygon | MultiPolygon:
    """A zone's GeoJSON Polygon or MultiPolygon (validated on save:
    fleet.models.hubs.validate_polygon_geojson) as a shapely geometry in (lon, lat)."""
    coordinates = geometry["coordinates"]
    assert isinstance(coordinates, list)
    if geometry["type"] == "MultiPolygon":
        return MultiPolygon([Polygon(rings[0], rings[1:]) for rings in coordinates])
    return Polygon(coordinates[0], coordinates[1:])


def zone_visits(
    fixes: Sequence[Fix], zones: dict[int, Polygon | MultiPolygon], *, gap_seconds: float
) -> list[ZoneVisit]:
    """Every visit of every zone, ordered by start time."""
    visits: list[ZoneVisit] = []
    for zone_id, polygon in zones.items():
        inside = prepared.prep(polygon)
        first: Fix | None = None
        last: Fix | None = None
        count = 0
        for fix in fixes:
            if last is not None and fix.timestamp - last.timestamp > gap_seconds and first:
                visits.append(ZoneVisit(zone_id, first.timestamp, last.timestamp, count))
                first, count = None, 0
            if inside.contains(Point(fix.longitude, fix.latitude)):
                first = first or fix
                count += 1
            elif first is not None and last is not None:
                visits.append(ZoneVisit(zone_id, first.timestamp, last.timestamp, count))
                first, count = None, 0
            last = fix
        if first is not None and last is not None:
            visits.append(ZoneVisit(zone_id, first.timestamp, last.timestamp, count))
    return sorted(visits, key=lambda visit: (visit.start_time, visit.zone_id))
