"""Write a crafted track straight into fleet_position (COPY, as the ingest writer does)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connection

from fleet.models import Device
from reporting.trips import Fix

COLUMNS = (
    "device_id, vehicle_id, organization_id, fix_time, server_time, latitude, longitude, "
    "speed_kmh, heading, altitude_m, ignition, attributes"
)


def positions_insert(device: Device, fixes: Sequence[Fix]) -> None:
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY fleet_position ({COLUMNS}) FROM STDIN") as copy,
    ):
        for fix in fixes:
            moment = dt.datetime.fromtimestamp(fix.timestamp, dt.UTC)
            copy.write_row(
                (
                    device.pk,
                    device.vehicle_id,
                    device.organization_id,
                    moment,
                    moment,
                    fix.latitude,
                    fix.longitude,
                    fix.speed_kmh,
                    90.0,
                    2.5,
                    fix.ignition,
                    "{}",
                )
            )
