"""Daily range partitions of fleet_position: create the coming days, drop the expired ones.

Partitions are global (all tenants share a day), so they are dropped after the longest retention
any organization keeps; an organization that keeps less has its older rows deleted by its own
retention task (fleet.maintenance.organization_retention_apply, one Celery task per tenant)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection

from .resolvers import position_partition_create, position_partition_drop

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
        try:
            if _partition_create(day):
                created.append(name)
        except Exception:
            # Rows for that day already sit in the default partition; leave them there.
            logger.exception("could not create partition %s", name)
    return created


def _partition_create(day: dt.date) -> bool:
    if not connection.settings_dict.get("DOORSTEP_AS_OWNER"):
        # The owner's function: the application role owns no table (docs/tenancy.md).
        return position_partition_create(day=day)
    # Migrations run as the owner, before the functions exist; post_migrate then gives these
    # partitions their row-level security like every other tenant table.
    start, end = day.isoformat(), (day + dt.timedelta(days=1)).isoformat()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {PARENT} "
            f"FOR VALUES FROM ('{start} 00:00+00') TO ('{end} 00:00+00')"
        )
    return True


def partitions_drop_expired(*, retention_days: int, today: dt.date | None = None) -> list[str]:
    today = today or dt.datetime.now(dt.UTC).date()
    cutoff = partition_name(today - dt.timedelta(days=retention_days))
    dropped = []
    for name in sorted(existing_partitions()):
        if name.startswith(f"{PARENT}_p") and name < cutoff:
            day = dt.datetime.strptime(name.removeprefix(f"{PARENT}_p"), "%Y%m%d").date()
            if position_partition_drop(day=day):
                dropped.append(name)
    return dropped
