"""Daily range partitions of fleet_position: create the coming days, drop the expired ones.

Partitions are global (all tenants share a day), so they are dropped after the longest retention
any organization keeps; an organization that keeps less has its older rows deleted by its own
retention task (fleet.maintenance.organization_retention_apply, one Celery task per tenant)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection

logger = logging.getLogger(__name__)

PARENT = "fleet_position"


def partition_name(day: dt.date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def existing_partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT child.relname FROM pg_inherits
            JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
            JOIN pg_class child ON child.oid = pg_inherits.inhrelid
            WHERE parent.relname = %s
            """,
            [PARENT],
        )
        return {row[0] for row in cursor.fetchall()}


def partitions_ensure(
    *, today: dt.date | None = None, days_back: int = 2, days_ahead: int = 7
) -> list[str]:
    today = today or dt.datetime.now(dt.UTC).date()
    have = existing_partitions()
    created = []
    for offset in range(-days_back, days_ahead + 1):
        day = today + dt.timedelta(days=offset)
        name = partition_name(day)
        if name in have:
            continue
        start, end = day.isoformat(), (day + dt.timedelta(days=1)).isoformat()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} "
                    f"FOR VALUES FROM ('{start} 00:00+00') TO ('{end} 00:00+00')"
                )
            created.append(name)
        except Exception:
            # Rows for that day already sit in the default partition; leave them there.
            logger.exception("could not create partition %s", name)
    return created


def partitions_drop_expired(*, retention_days: int, today: dt.date | None = None) -> list[str]:
    today = today or dt.datetime.now(dt.UTC).date()
    cutoff = partition_name(today - dt.timedelta(days=retention_days))
    dropped = []
    for name in sorted(existing_partitions()):
        if name.startswith(f"{PARENT}_p") and name < cutoff:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
            dropped.append(name)
    return dropped
