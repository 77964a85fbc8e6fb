"""The organization's zones as shapely polygons in longitude/latitude, for the rollups' "which
zones did this route serve" (a point-in-polygon test per stop; degrees are fine for that)."""

from __future__ import annotations

from typing import Any

from shapely.geometry import shape
from shapely.prepared import prep

from fleet.models import Zone
from tenancy.context import require_organization


def zone_polygons(*, organization_id: int) -> list[tuple[int, Any]]:
    require_organization(organization_id)
    polygons: list[tuple[int, Any]] = []
    for zone_id, geometry in Zone.objects.filter(organization_id=organization_id).values_list(
        "pk", "geometry"
    ):
        try:
            polygon = shape(geometry)
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # a malformed geometry is the zone form's problem, not a KPI's
        if not polygon.is_empty:
            polygons.append((zone_id, prep(polygon)))
    return polygons
