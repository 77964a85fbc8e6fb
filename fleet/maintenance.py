"""Time-based tracking upkeep: vehicles going offline by silence, position partitions, and
each organization's retention of positions and refused fixes."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from tenancy.context import operator_context, require_organization, tenant_context
from tenancy.models import Organization

from .live.broadcast import live_publish
from .live.snapshot import vehicle_live_list
from .models import RejectedFix, TrackingSettings
from .partitions import partitions_drop_expired, partitions_ensure

logger = logging.getLogger(__name__)

MARK_OFFLINE_SQL = """
UPDATE fleet_vehiclestate s SET status = 'offline'
FROM tenancy_organization o
LEFT JOIN fleet_trackingsettings t ON t.organization_id = o.id
WHERE s.organization_id = o.id AND s.status <> 'offline'
  AND s.fix_time < now() - make_interval(secs => COALESCE(t.offline_after_seconds, 600))
RETURNING s.organization_id, s.vehicle_id
"""


def vehicle_states_mark_offline() -> int:
    """Silence is a status change nobody reports; find it here and push it to the screens."""
    # One statement over every tenant's vehicle states: a maintenance job, run as the operator.
    with operator_context(), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(MARK_OFFLINE_SQL)
        changed = cursor.fetchall()
    by_org: dict[int, set[int]] = defaultdict(set)
    for organization_id, vehicle_id in changed:
        by_org[organization_id].add(vehicle_id)
    if by_org:
        _broadcast(by_org)
    return len(changed)


def _broadcast(by_org: dict[int, set[int]]) -> None:
    for organization_id, vehicle_ids in by_org.items():
        # Each organization's vehicles are read inside that organization's own context.
        with tenant_context(organization_id):
            vehicles = [
                v
                for v in vehicle_live_list(organization_id=organization_id)
                if v["id"] in vehicle_ids
            ]
        live_publish(organization_id=organization_id, vehicles=vehicles)


DEFAULT_RETENTION_DAYS = 90  # TrackingSettings.position_retention_days' default
RETENTION_BATCH = 5000  # rows per DELETE: short transactions, no long lock on a busy table

# Organizations without tracking settings keep the default.
LONGEST_RETENTION_SQL = """
SELECT COALESCE(MAX(COALESCE(t.position_retention_days, %s)), %s)
FROM tenancy_organization o
LEFT JOIN fleet_trackingsettings t ON t.organization_id = o.id
"""

# The PK (device_id, fix_time) picks the rows; fix_time in the outer condition too, so only
# the partitions that can hold them are touched.
POSITIONS_DELETE_SQL = """
DELETE FROM fleet_position p USING (
    SELECT device_id, fix_time FROM fleet_position
    WHERE organization_id = %(organization_id)s AND fix_time < %(cutoff)s
    LIMIT %(batch)s
) old
WHERE p.device_id = old.device_id AND p.fix_time = old.fix_time
  AND p.organization_id = %(organization_id)s AND p.fix_time < %(cutoff)s
"""


def retention_days_longest() -> int:
    # Across every tenant's settings: a maintenance read, as the operator.
    with operator_context(), connection.cursor() as cursor:
        cursor.execute(LONGEST_RETENTION_SQL, [DEFAULT_RETENTION_DAYS, DEFAULT_RETENTION_DAYS])
        return int(cursor.fetchone()[0])


def positions_maintain() -> dict[str, Any]:
    """Create the coming days' partitions; drop those past the longest retention of any tenant
    (partitions are shared by every tenant; shorter retentions are deletes per organization)."""
    return {
        "created": partitions_ensure(),
        "dropped": partitions_drop_expired(retention_days=retention_days_longest()),
    }


def organization_ids() -> list[int]:
    """Every organization, for the fan-out of per-organization chores."""
    return list(Organization.objects.order_by("pk").values_list("pk", flat=True))


def organization_retention_apply(
    *, organization_id: int, now: dt.datetime | None = None, batch: int = RETENTION_BATCH
) -> dict[str, int]:
    """Delete one organization's positions and refused fixes older than its own retention, in
    batches of `batch` rows, each its own short transaction. Runs inside the organization's
    context (the tenant task `fleet.apply_position_retention` enters it)."""
    require_organization(organization_id)
    now = now or timezone.now()
    days = (
        TrackingSettings.objects.filter(organization_id=organization_id)
        .values_list("position_retention_days", flat=True)
        .first()
        or DEFAULT_RETENTION_DAYS
    )
    cutoff = now - dt.timedelta(days=days)
    positions = _positions_delete_before(organization_id, cutoff, batch)
    refusals = _refusals_delete_before(organization_id, cutoff, batch)
    if positions or refusals:
        logger.info(
            "retention of organization %s (%s days): %s positions, %s refused fixes deleted",
            organization_id, days, positions, refusals,
        )  # fmt: skip
    result = {"retention_days": days, "positions": positions, "refusals": refusals}
    for name, hook in RETENTION_HOOKS.items():
        result[name] = hook(organization_id=organization_id, now=now)
    return result


# Higher apps' own retention (reporting's report archive), run by the same per-organization
# task: fleet cannot import them, so they register here in their AppConfig.ready().
RetentionHook = Callable[..., int]
RETENTION_HOOKS: dict[str, RetentionHook] = {}


def retention_hook_register(name: str, hook: RetentionHook) -> None:
    """`hook(organization_id=..., now=...)` deletes what is past its retention and returns how
    many rows it deleted."""
    RETENTION_HOOKS[name] = hook


def _positions_delete_before(organization_id: int, cutoff: dt.datetime, batch: int) -> int:
    deleted = 0
    params: dict[str, int | dt.datetime] = {
        "organization_id": organization_id,
        "cutoff": cutoff,
        "batch": batch,
    }
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(POSITIONS_DELETE_SQL, params)
            count = cursor.rowcount
        deleted += count
        if count < batch:
            return deleted


def _refusals_delete_before(organization_id: int, cutoff: dt.datetime, batch: int) -> int:
    """Inside the organization's context. By first refusal (`received_at`), so a fix a device
    keeps resending is not kept past the retention by its repeats."""
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                RejectedFix.objects.filter(
                    organization_id=organization_id, received_at__lt=cutoff
                ).values_list("pk", flat=True)[:batch]
            )
            RejectedFix.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
