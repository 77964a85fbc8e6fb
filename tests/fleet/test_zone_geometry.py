"""A zone may be a Polygon or a MultiPolygon: every reader of zones takes both and agrees on
what is inside (a part's outline, outside its holes): the database's fleet_zone_covers (the
orders' zone filter), the alerts' zone index, the reports' polygons and the live map's zone
filter."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from shapely import Point

from alerts.evaluation.geometry import projection_around, zone_index_build
from fleet.geo import square_polygon
from fleet.live.filters import live_filter_parse
from reporting.reports.episodes import polygon_of


def outline(latitude: float, longitude: float, half_km: float) -> Any:
    return square_polygon(latitude, longitude, half_km)["coordinates"][0]  # type: ignore[index]


WEST, WEST_HOLE, EAST = (
    outline(52.37, 4.80, 1.0),
    outline(52.37, 4.80, 0.2),
    outline(52.37, 4.95, 1.0),
)
TWO_SIDES: dict[str, Any] = {"type": "MultiPolygon", "coordinates": [[WEST, WEST_HOLE], [EAST]]}
ONE_SIDE: dict[str, Any] = {"type": "Polygon", "coordinates": [WEST, WEST_HOLE]}

# (latitude, longitude) -> inside TWO_SIDES?, inside ONE_SIDE?
POINTS = {
    (52.37, 4.80): (False, False),  # the western part's hole
    (52.375, 4.81): (True, True),  # the western part, beside its hole
    (52.37, 4.95): (True, False),  # the eastern part
    (52.37, 4.875): (False, False),  # between the parts
    (53.0, 4.80): (False, False),
}


def expected(geometry: dict[str, Any]) -> list[bool]:
    column = 0 if geometry is TWO_SIDES else 1
    return [inside[column] for inside in POINTS.values()]


@pytest.mark.django_db
@pytest.mark.parametrize("geometry", [TWO_SIDES, ONE_SIDE])
def test_the_database_covers_the_points_of_either(geometry: dict[str, Any]) -> None:
    found = []
    with connection.cursor() as cursor:
        for latitude, longitude in POINTS:
            cursor.execute(
                "SELECT fleet_zone_covers(%s::jsonb, %s, %s)",
                [json.dumps(geometry), longitude, latitude],
            )
            found.append(cursor.fetchone()[0])
    assert found == expected(geometry)


@pytest.mark.parametrize("geometry", [TWO_SIDES, ONE_SIDE])
def test_the_alerts_zone_index_holds_either(geometry: dict[str, Any]) -> None:
    projection = projection_around(POINTS)
    index = zone_index_build(projection, [(7, "geofence", geometry)])
    found = [
        index.containing(Point(projection.xy(latitude, longitude))) == {7}
        for latitude, longitude in POINTS
    ]
    assert found == expected(geometry)


@pytest.mark.parametrize("geometry", [TWO_SIDES, ONE_SIDE])
def test_the_reports_and_the_live_filter_read_either(geometry: dict[str, Any]) -> None:
    report = polygon_of(geometry)
    live = live_filter_parse({"zone": 7}, zone_geometries={7: geometry}).area
    assert live is not None
    for (latitude, longitude), inside in zip(POINTS, expected(geometry), strict=True):
        assert report.contains(Point(longitude, latitude)) is inside
        assert live.contains(Point(longitude, latitude)) is inside
