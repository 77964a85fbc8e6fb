"""Crafted tracks for the evaluators' tests: straight lines at a speed, standing still, a
square zone, all around one point so the numbers are easy to follow."""

from __future__ import annotations

import math
from collections.abc import Iterator

from alerts.evaluation.geometry import (
    corridor_build,
    places_build,
    projection_around,
    zone_index_build,
)
from alerts.evaluation.stream import Fix, OrgGeometry, VehicleContext

ORIGIN = (52.37, 4.89)  # lat, lon: where the factories put the hub
M_PER_DEG_LAT = 111_195.0


def offset(
    north_m: float, east_m: float, origin: tuple[float, float] = ORIGIN
) -> tuple[float, float]:
    lat = origin[0] + north_m / M_PER_DEG_LAT
    lon = origin[1] + east_m / (M_PER_DEG_LAT * math.cos(math.radians(origin[0])))
    return lat, lon


def square(half_m: float, centre: tuple[float, float] = (0, 0)) -> dict[str, object]:
    n, e = centre
    corners = [(-half_m, -half_m), (-half_m, half_m), (half_m, half_m), (half_m, -half_m)]
    ring = [offset(n + a, e + b) for a, b in corners]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in ring]]}


def drive(
    *, start_t: float = 1_000_000.0, seconds: int, every: int = 5, kmh: float,
    start_east_m: float = 0.0, north_m: float = 0.0, battery: float | None = None,
    ignition: bool | None = None, report_speed: bool = True,
) -> Iterator[Fix]:  # fmt: skip
    """Eastwards at `kmh`, one fix every `every` seconds."""
    for i in range(0, seconds + 1, every):
        east = start_east_m + kmh / 3.6 * i
        lat, lon = offset(north_m, east)
        yield Fix(start_t + i, lat, lon, kmh if report_speed else None, battery, ignition)


def geometry(zones: list[tuple[int, str, dict[str, object]]] | None = None) -> OrgGeometry:
    projection = projection_around([ORIGIN])
    zones = zones or []
    return OrgGeometry(
        projection=projection,
        zones=zone_index_build(projection, zones),
        zone_hubs={z[0]: None for z in zones},
        zone_names={z[0]: f"Zone {z[0]}" for z in zones},
    )


def context(
    geo: OrgGeometry, *, places: list[tuple[float, float]] = (), route: list[tuple[float, float]] = (),  # type: ignore[assignment]
) -> VehicleContext:  # fmt: skip
    return VehicleContext(
        vehicle_id=7, label="B-TEST-1", hub_id=None, route_id=1 if route else None,
        places=places_build(geo.projection, places),
        corridor=corridor_build(geo.projection, list(route)) if route else None,
    )  # fmt: skip
