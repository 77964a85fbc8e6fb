"""The ingest writer's hand-written SQL against the Django models and the real tables.

The writer uses raw psycopg (fleet/ingest/copy_encoding.py), so nothing ties its column lists
to the models: a field added to Position, VehicleState or RejectedFix that the SQL forgets
would be silently left at its default (or fail every flush in production). These tests make
that a test failure instead."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import psycopg
import pytest
from django.db import models

from fleet.ingest import copy_encoding as sql
from fleet.ingest.database import conninfo_from_settings
from fleet.ingest.decode import Fix
from fleet.ingest.directory import DeviceInfo
from fleet.ingest.filters import Limits
from fleet.ingest.writer import Item
from fleet.models import Position, RejectedFix, VehicleState
from tenancy.outbox import raw as outbox_sql
from tenancy.outbox.models import OutboxEvent

# Columns the writer leaves to the database on purpose: a serial id, and what the upsert
# derives (last_seen_at is received_at on insert, the newest on conflict).
REFUSAL_DERIVED = {"id", "last_seen_at"}
# An outbox event's id is an identity; relayed_at stays empty until the relay is done with it.
OUTBOX_LEFT_EMPTY = {"id", "relayed_at"}


def model_columns(model: type[models.Model]) -> set[str]:
    return {field.column for field in model._meta.concrete_fields if field.column}


def columns_in(statement: str, table: str) -> list[str]:
    """The column list of `INSERT INTO table (...)` / `COPY table (...)` in a statement."""
    match = re.search(rf"(?:INTO|COPY)\s+{table}\s*\(([^)]*)\)", statement)
    assert match, f"no column list for {table} in {statement!r}"
    return [name.strip() for name in match.group(1).split(",")]


def temp_columns(statement: str) -> list[str]:
    body = statement[statement.index("(") + 1 : statement.rindex(")")]
    return [part.strip().split()[0] for part in body.split(",")]


def test_position_copy_covers_every_position_column() -> None:
    assert len(set(sql.POSITION_COLUMNS)) == len(sql.POSITION_COLUMNS)
    assert set(sql.POSITION_COLUMNS) == model_columns(Position)
    assert columns_in(sql.DIRECT_COPY_SQL, "fleet_position") == list(sql.POSITION_COLUMNS)
    assert columns_in(sql.COPY_SQL, "incoming_position") == [*sql.POSITION_COLUMNS, "seq"]
    assert columns_in(sql.INSERT_SQL, "fleet_position") == list(sql.POSITION_COLUMNS)


def test_state_upsert_covers_every_vehicle_state_column() -> None:
    assert set(sql.STATE_COLUMNS) == model_columns(VehicleState)
    assert len(sql.STATE_TYPES) == len(sql.STATE_COLUMNS)
    assert temp_columns(sql.STATE_TEMP_SQL) == list(sql.STATE_COLUMNS)
    assert columns_in(sql.STATE_COPY_SQL, "incoming_state") == list(sql.STATE_COLUMNS)
    assert columns_in(sql.STATE_UPSERT_SQL, "fleet_vehiclestate") == list(sql.STATE_COLUMNS)
    # Every column but the key is updated on conflict.
    updated = re.findall(r"(\w+) = EXCLUDED\.\1", sql.STATE_UPSERT_SQL)
    assert set(updated) == set(sql.STATE_COLUMNS) - {"vehicle_id"}


def test_refusal_upsert_covers_every_rejected_fix_column() -> None:
    assert set(sql.REFUSAL_COLUMNS) == model_columns(RejectedFix) - REFUSAL_DERIVED
    assert temp_columns(sql.REFUSAL_TEMP_SQL) == list(sql.REFUSAL_COLUMNS)
    assert columns_in(sql.REFUSAL_COPY_SQL, "incoming_refusal") == list(sql.REFUSAL_COLUMNS)
    inserted = columns_in(sql.REFUSAL_UPSERT_SQL, "fleet_rejectedfix")
    assert inserted == [*sql.REFUSAL_COLUMNS, "last_seen_at"]


def test_outbox_insert_covers_every_outbox_event_column() -> None:
    assert set(outbox_sql.OUTBOX_INSERT_COLUMNS) == model_columns(OutboxEvent) - OUTBOX_LEFT_EMPTY
    inserted = columns_in(outbox_sql.OUTBOX_INSERT_SQL, "tenancy_outboxevent")
    assert inserted == list(outbox_sql.OUTBOX_INSERT_COLUMNS)


def _item(**fix: Any) -> Item:
    now = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
    device = DeviceInfo(
        device_id=7,
        organization_id=3,
        vehicle_id=11,
        token_hash="",
        active=True,
        speed_unit="kmh",
        require_token=False,
        limits=Limits(),
    )
    values: dict[str, Any] = {
        "device_key": "d-7",
        "fix_time": now,
        "latitude": 52.1,
        "longitude": 4.3,
        "speed_kmh": 12.5,
        "battery_pct": 80.0,
        "ignition": True,
        "attributes": {"a": 1},
        **fix,
    }
    return Item(Fix(**values), device, now)


def test_copy_rows_have_one_field_per_column() -> None:
    item = _item()
    (row,) = sql.copy_text([item], with_seq=False).splitlines()
    assert len(row.split("\t")) == len(sql.POSITION_COLUMNS)
    (row,) = sql.copy_text([item]).splitlines()
    assert len(row.split("\t")) == len(sql.POSITION_COLUMNS) + 1
    (row,) = sql.state_copy_text({11: (item, "moving", None)}).splitlines()
    assert len(row.split("\t")) == len(sql.STATE_COLUMNS)


TYPE_SQL = """
SELECT a.attname, format_type(a.atttypid, NULL)
FROM pg_attribute a
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
"""


def _types(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    return {name: kind for name, kind in conn.execute(TYPE_SQL, (table,)).fetchall()}


@pytest.mark.django_db
def test_temp_tables_match_the_real_tables_types() -> None:
    """As the ingest role, the way the writer does it: its temporary tables hold each column
    in the real table's type, so the upserts never cast (or truncate) on the way."""
    with psycopg.connect(conninfo_from_settings()) as conn:
        for statement in (sql.POSITION_TEMP_SQL, sql.STATE_TEMP_SQL, sql.REFUSAL_TEMP_SQL):
            conn.execute(statement)
        pairs = [
            ("incoming_position", "fleet_position", sql.POSITION_COLUMNS),
            ("incoming_state", "fleet_vehiclestate", sql.STATE_COLUMNS),
            ("incoming_refusal", "fleet_rejectedfix", sql.REFUSAL_COLUMNS),
        ]
        for temp, real, columns in pairs:
            temp_types, real_types = _types(conn, temp), _types(conn, real)
            assert {c: temp_types[c] for c in columns} == {c: real_types[c] for c in columns}
        conn.rollback()
