"""fleet_zone_covers(geometry, longitude, latitude): is the point inside a zone's GeoJSON Polygon
(its first ring) and outside its holes (the other rings)? PostgreSQL's own `polygon @> point`
(no PostGIS here), so a list can be filtered by zone in the database. A point on the boundary
counts as inside, like shapely's `covers` in the rollups' zones (reporting/zones.py)."""

from django.db import migrations

CREATE_SQL = """
CREATE FUNCTION fleet_zone_covers(geometry jsonb, longitude double precision,
                                  latitude double precision)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(bool_and(CASE WHEN ring.n = 1 THEN inside ELSE NOT inside END), false)
    FROM (
        SELECT rings.n, (
            SELECT ('(' || string_agg('(' || (p ->> 0) || ',' || (p ->> 1) || ')', ','
                                      ORDER BY k) || ')')::polygon
            FROM jsonb_array_elements(rings.value) WITH ORDINALITY AS points(p, k)
        ) @> point(longitude, latitude) AS inside
        FROM jsonb_array_elements(
            CASE WHEN jsonb_typeof(geometry -> 'coordinates') = 'array'
                 THEN geometry -> 'coordinates' ELSE '[]'::jsonb END
        ) WITH ORDINALITY AS rings(value, n)
        WHERE jsonb_typeof(rings.value) = 'array' AND jsonb_array_length(rings.value) >= 3
    ) AS ring
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("fleet", "0007_rejectedfix_repeats_retention")]

    operations = [
        migrations.RunSQL(
            CREATE_SQL,
            reverse_sql="DROP FUNCTION fleet_zone_covers(jsonb, double precision, double precision)",
        )
    ]
