"""Zones may be MultiPolygons: fleet_zone_covers(geometry, longitude, latitude) is true when
any of the geometry's polygons covers the point (inside its first ring, outside its holes); a
Polygon is one polygon, as before (0008). PostgreSQL's own `polygon @> point`, no PostGIS."""

from importlib import import_module

from django.db import migrations, models

import fleet.models.hubs

POLYGON_ONLY_SQL = import_module("fleet.migrations.0008_zone_covers_function").CREATE_SQL.replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"
)

CREATE_SQL = """
CREATE OR REPLACE FUNCTION fleet_zone_covers(geometry jsonb, longitude double precision,
                                             latitude double precision)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(bool_or(part.covers), false)
    FROM (
        SELECT (
            SELECT COALESCE(bool_and(CASE WHEN ring.n = 1 THEN inside ELSE NOT inside END), false)
            FROM (
                SELECT rings.n, (
                    SELECT ('(' || string_agg('(' || (p ->> 0) || ',' || (p ->> 1) || ')', ','
                                              ORDER BY k) || ')')::polygon
                    FROM jsonb_array_elements(rings.value) WITH ORDINALITY AS points(p, k)
                ) @> point(longitude, latitude) AS inside
                FROM jsonb_array_elements(polygons.rings) WITH ORDINALITY AS rings(value, n)
                WHERE jsonb_typeof(rings.value) = 'array' AND jsonb_array_length(rings.value) >= 3
            ) AS ring
        ) AS covers
        FROM jsonb_array_elements(
            CASE WHEN jsonb_typeof(geometry -> 'coordinates') <> 'array' THEN '[]'::jsonb
                 WHEN geometry ->> 'type' = 'MultiPolygon' THEN geometry -> 'coordinates'
                 ELSE jsonb_build_array(geometry -> 'coordinates') END
        ) AS polygons(rings)
        WHERE jsonb_typeof(polygons.rings) = 'array'
    ) AS part
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("fleet", "0009_fleet_updated_at")]

    operations = [
        migrations.AlterField(
            model_name="zone",
            name="geometry",
            field=models.JSONField(
                help_text='GeoJSON Polygon, e.g. {"type": "Polygon", "coordinates": [[[lon, lat], '
                '...]]}, or MultiPolygon',
                validators=[fleet.models.hubs.validate_polygon_geojson],
            ),
        ),
        migrations.RunSQL(CREATE_SQL, reverse_sql=POLYGON_ONLY_SQL),
    ]
