"""The writer's SQL and its rows in COPY text format: the column lists of fleet_position,
fleet_vehiclestate and fleet_rejectedfix, the temporary tables the rows travel through, and the
upserts from them. tests/fleet/test_ingest_sql.py holds every list against the Django models,
so a model change that forgets this file fails a test."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .writer import Item

POSITION_COLUMNS = (
    "device_id",
    "organization_id",
    "vehicle_id",
    "fix_time",
    "server_time",
    "latitude",
    "longitude",
    "speed_kmh",
    "heading",
    "accuracy_m",
    "altitude_m",
    "odometer_m",
    "battery_pct",
    "ignition",
    "attributes",
)


class RowEncodingError(ValueError):
    """A fix's attributes could not be written as JSON for the COPY."""


REFUSAL_COLUMNS = (
    "organization_id",
    "device_id",
    "received_at",
    "fix_time",
    "reason",
    "detail",
    "payload",
    "repeats",
)
REFUSAL_TEMP_SQL = (
    "CREATE TEMP TABLE IF NOT EXISTS incoming_refusal (organization_id bigint, "
    "device_id bigint, received_at timestamptz, fix_time timestamptz, reason varchar(24), "
    "detail varchar(200), payload jsonb, repeats integer) ON COMMIT DELETE ROWS"
)
REFUSAL_COPY_SQL = f"COPY incoming_refusal ({', '.join(REFUSAL_COLUMNS)}) FROM STDIN"
REFUSAL_UPSERT_SQL = (
    f"INSERT INTO fleet_rejectedfix ({', '.join(REFUSAL_COLUMNS)}, last_seen_at) "  # noqa: S608
    f"SELECT {', '.join(REFUSAL_COLUMNS)}, received_at FROM incoming_refusal "
    "ORDER BY device_id, fix_time "
    "ON CONFLICT (device_id, fix_time, reason) DO UPDATE SET "
    "repeats = fleet_rejectedfix.repeats + EXCLUDED.repeats, "
    "last_seen_at = GREATEST(fleet_rejectedfix.last_seen_at, EXCLUDED.last_seen_at), "
    "detail = EXCLUDED.detail"
)
POSITION_TEMP_SQL = (
    "CREATE TEMP TABLE IF NOT EXISTS incoming_position "
    "(LIKE fleet_position INCLUDING DEFAULTS, seq integer) ON COMMIT DELETE ROWS"
)
COPY_SQL = f"COPY incoming_position ({', '.join(POSITION_COLUMNS)}, seq) FROM STDIN"
DIRECT_COPY_SQL = f"COPY fleet_position ({', '.join(POSITION_COLUMNS)}) FROM STDIN"
INSERT_SQL = (
    f"WITH inserted AS (INSERT INTO fleet_position ({', '.join(POSITION_COLUMNS)}) "  # noqa: S608
    f"SELECT {', '.join(POSITION_COLUMNS)} FROM incoming_position "
    "ON CONFLICT DO NOTHING RETURNING device_id, fix_time) "
    "SELECT i.seq FROM incoming_position i LEFT JOIN inserted USING (device_id, fix_time) "
    "WHERE inserted.device_id IS NULL"
)

STATE_COLUMNS = (
    "vehicle_id",
    "organization_id",
    "device_id",
    "fix_time",
    "server_time",
    "latitude",
    "longitude",
    "speed_kmh",
    "heading",
    "accuracy_m",
    "battery_pct",
    "ignition",
    "status",
    "stationary_since",
)
STATE_TYPES = (
    "bigint",
    "bigint",
    "bigint",
    "timestamptz",
    "timestamptz",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "boolean",
    "varchar",
    "timestamptz",
)
STATE_TEMP_SQL = (
    "CREATE TEMP TABLE IF NOT EXISTS incoming_state ("
    + ", ".join(f"{c} {t}" for c, t in zip(STATE_COLUMNS, STATE_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS"
)
STATE_COPY_SQL = f"COPY incoming_state ({', '.join(STATE_COLUMNS)}) FROM STDIN"
STATE_UPSERT_SQL = (
    f"INSERT INTO fleet_vehiclestate ({', '.join(STATE_COLUMNS)}) "  # noqa: S608
    f"SELECT {', '.join(STATE_COLUMNS)} FROM incoming_state ORDER BY vehicle_id "
    "ON CONFLICT (vehicle_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in STATE_COLUMNS[1:])
    + " WHERE fleet_vehiclestate.fix_time < EXCLUDED.fix_time RETURNING vehicle_id"
)


def _text(value: Any) -> str:
    return "\\N" if value is None else str(value)


def _attributes_text(attributes: dict[str, Any]) -> str:
    """For a fix the decoder did not check (built in code): what json makes of it, or a
    RowEncodingError that has the writer isolate it."""
    if not attributes:
        return "{}"
    try:
        return json.dumps(attributes, default=str)
    except (ValueError, TypeError, RecursionError) as exc:
        raise RowEncodingError(f"attributes cannot be encoded: {exc!r}") from exc


def copy_text(items: list[Item], *, with_seq: bool = True) -> str:
    """The rows of a flush in COPY text format, built in one pass: several times cheaper than
    adapting value by value. Numbers and timestamps need no escaping; JSON escapes control
    characters itself, so only its backslashes need doubling."""
    lines = []
    for seq, item in enumerate(items):
        end = f"\t{seq}\n" if with_seq else "\n"
        fix = item.fix
        device = item.device
        attributes = fix.attributes_json
        if attributes is None:
            attributes = _attributes_text(fix.attributes)
        if "\\" in attributes:
            attributes = attributes.replace("\\", "\\\\")
        lines.append(
            f"{device.device_id}\t{device.organization_id}\t{_text(device.vehicle_id)}\t"
            f"{fix.fix_time.isoformat()}\t{item.server_time.isoformat()}\t"
            f"{fix.latitude!r}\t{fix.longitude!r}\t{_text(fix.speed_kmh)}\t"
            f"{_text(fix.heading)}\t{_text(fix.accuracy_m)}\t{_text(fix.altitude_m)}\t"
            f"{_text(fix.odometer_m)}\t{_text(fix.battery_pct)}\t"
            f"{_text(None if fix.ignition is None else ('t' if fix.ignition else 'f'))}\t"
            f"{attributes}{end}"
        )
    return "".join(lines)


def _time(value: dt.datetime | None) -> str:
    return "\\N" if value is None else value.isoformat()


def state_copy_text(states: dict[int, tuple[Item, str, dt.datetime | None]]) -> str:
    """The vehicle-state rows of a flush in COPY text format, in vehicle order."""
    lines = []
    for vehicle_id in sorted(states):
        item, status, since = states[vehicle_id]
        fix = item.fix
        ignition = None if fix.ignition is None else ("t" if fix.ignition else "f")
        lines.append(
            f"{vehicle_id}\t{item.device.organization_id}\t{item.device.device_id}\t"
            f"{fix.fix_time.isoformat()}\t{item.server_time.isoformat()}\t"
            f"{fix.latitude!r}\t{fix.longitude!r}\t{_text(fix.speed_kmh)}\t"
            f"{_text(fix.heading)}\t{_text(fix.accuracy_m)}\t{_text(fix.battery_pct)}\t"
            f"{_text(ignition)}\t{status}\t{_time(since)}\n"
        )
    return "".join(lines)
