"""Geometry for the evaluators, in a local metric plane: an equirectangular projection around
the organization's centre is accurate to well under 1% across a city or region, and makes
shapely's distances metres. Zones go into an STRtree of prepared polygons (a query per fix,
not a loop over polygons); a route's corridor is a LineString, so distances are measured to
its segments, not to its vertices."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely import LineString, MultiPolygon, Point, Polygon, STRtree

from fleet.geo import EARTH_RADIUS_M

_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180


@dataclass(frozen=True)
class LocalProjection:
    lat0: float
    lon0: float
    kx: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kx", _M_PER_DEG * math.cos(math.radians(self.lat0)))

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return ((lon - self.lon0) * self.kx, (lat - self.lat0) * _M_PER_DEG)


def projection_around(points: Iterable[tuple[float, float]]) -> LocalProjection:
    pts = list(points)
    if not pts:
        return LocalProjection(0.0, 0.0)
    return LocalProjection(sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))


@dataclass
class ZoneIndex:
    """The organization's zones, queried by point: which zones contain it."""

    projection: LocalProjection
    zone_ids: list[int]
    kinds: list[str]
    polygons: list[Polygon | MultiPolygon]
    tree: STRtree | None = None
    by_id: dict[int, int] = field(default_factory=dict)

    def containing(self, point: Point) -> frozenset[int]:
        if self.tree is None:
            return frozenset()
        hits = self.tree.query(point, predicate="intersects")
        return frozenset(self.zone_ids[i] for i in hits)

    def containing_all(self, points: Any) -> list[frozenset[int]]:
        """`containing` for an array of points, in one vectorised tree query."""
        count = len(points)
        if self.tree is None or not count:
            return [frozenset()] * count
        found: list[list[int]] = [[] for _ in range(count)]
        hits = self.tree.query(points, predicate="intersects")
        ids = self.zone_ids
        for point_index, zone_index in zip(hits[0].tolist(), hits[1].tolist(), strict=True):
            found[point_index].append(ids[zone_index])
        return [frozenset(z) for z in found]

    def distance_m(self, zone_ids: Iterable[int], point: Point) -> float:
        """Distance to the nearest of `zone_ids` (0 inside one)."""
        best = math.inf
        for zone_id in zone_ids:
            index = self.by_id.get(zone_id)
            if index is not None:
                best = min(best, self.polygons[index].distance(point))
        return best


def _projected_polygon(projection: LocalProjection, rings: Any) -> Polygon:
    projected = [[projection.xy(float(lat), float(lon)) for lon, lat, *_ in ring] for ring in rings]
    return Polygon(projected[0], projected[1:])


def geojson_polygon(
    projection: LocalProjection, geometry: dict[str, Any]
) -> Polygon | MultiPolygon | None:
    """A zone's GeoJSON Polygon or MultiPolygon in the local plane; None when malformed."""
    polygon: Polygon | MultiPolygon
    try:
        if geometry["type"] == "MultiPolygon":
            parts = geometry["coordinates"]
            polygon = MultiPolygon([_projected_polygon(projection, rings) for rings in parts])
        else:
            polygon = _projected_polygon(projection, geometry["coordinates"])
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if not polygon.is_valid:
        polygon = polygon.buffer(0)
    return polygon if not polygon.is_empty else None  # type: ignore[return-value]


def zone_index_build(
    projection: LocalProjection, zones: Sequence[tuple[int, str, dict[str, Any]]]
) -> ZoneIndex:
    """`zones`: (id, kind, GeoJSON polygon). Invalid geometries are skipped, not fatal."""
    ids, kinds, polygons = [], [], []
    for zone_id, kind, geometry in zones:
        polygon = geojson_polygon(projection, geometry)
        if polygon is not None:
            shapely.prepare(polygon)
            ids.append(zone_id)
            kinds.append(kind)
            polygons.append(polygon)
    tree = STRtree(polygons) if polygons else None
    by_id = {zone_id: i for i, zone_id in enumerate(ids)}
    return ZoneIndex(projection, ids, kinds, polygons, tree, by_id)


@dataclass
class Places:
    """Points where standing still is planned (hubs, the route's stops), in metres. A few
    dozen at most per vehicle: a plain loop beats numpy's per-call overhead."""

    xy: list[tuple[float, float]]

    def nearest_m(self, x: float, y: float) -> float:
        if not self.xy:
            return math.inf
        return math.sqrt(min((px - x) ** 2 + (py - y) ** 2 for px, py in self.xy))


def places_build(projection: LocalProjection, points: Iterable[tuple[float, float]]) -> Places:
    return Places([projection.xy(lat, lon) for lat, lon in points])


def corridor_build(
    projection: LocalProjection, points: Sequence[tuple[float, float]]
) -> LineString | Point | None:
    """The planned remaining route as a polyline (a single point when one stop is left)."""
    xy = [projection.xy(lat, lon) for lat, lon in points]
    if not xy:
        return None
    if len(xy) == 1:
        return Point(xy[0])
    line = LineString(xy)
    shapely.prepare(line)
    return line


def corridor_distance_m(corridor: LineString | Point, point: Point) -> float:
    return float(corridor.distance(point))
