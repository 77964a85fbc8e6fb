from django.db import migrations

CREATE = """
CREATE TABLE fleet_position (
    device_id bigint NOT NULL,
    organization_id bigint NOT NULL,
    vehicle_id bigint NULL,
    fix_time timestamptz NOT NULL,
    server_time timestamptz NOT NULL,
    latitude double precision NOT NULL,
    longitude double precision NOT NULL,
    speed_kmh double precision NULL,
    heading double precision NULL,
    accuracy_m double precision NULL,
    altitude_m double precision NULL,
    odometer_m double precision NULL,
    battery_pct double precision NULL,
    ignition boolean NULL,
    attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (device_id, fix_time)
) PARTITION BY RANGE (fix_time);
-- One vehicle over a time range (history, replay, reports).
CREATE INDEX fleet_position_vehicle_time ON fleet_position (vehicle_id, fix_time);
-- Everything in a time range, per tenant (rollups, exports).
CREATE INDEX fleet_position_org_time ON fleet_position (organization_id, fix_time);
-- Fixes outside every daily partition land here instead of being lost.
CREATE TABLE fleet_position_default PARTITION OF fleet_position DEFAULT;
"""


def create_partitions(apps, schema_editor):
    from fleet.partitions import partitions_ensure

    partitions_ensure()


class Migration(migrations.Migration):
    dependencies = [("fleet", "0003_tracking")]

    operations = [
        migrations.RunSQL(CREATE, reverse_sql="DROP TABLE fleet_position CASCADE;"),
        migrations.RunPython(create_partitions, migrations.RunPython.noop),
    ]
