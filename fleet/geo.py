"""Distances on the Earth's surface: the one haversine every layer (ingest filters, simulator,
ETA, tracking page) imports, so they all agree on the radius and the formula."""

from __future__ import annotations

import math

# The mean Earth radius (IUGG), in metres.
EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    # min() guards asin against rounding just above 1 for antipodal points.
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def square_polygon(latitude: float, longitude: float, half_km: float) -> dict[str, object]:
    """A GeoJSON square centred on a point, `half_km` from the centre to each side (a quick
    zone shape for seeds and tests)."""
    dlat = half_km / 111.0
    dlon = half_km / (111.0 * math.cos(math.radians(latitude)))
    ring = [
        [longitude - dlon, latitude - dlat],
        [longitude + dlon, latitude - dlat],
        [longitude + dlon, latitude + dlat],
        [longitude - dlon, latitude + dlat],
        [longitude - dlon, latitude - dlat],
    ]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}
