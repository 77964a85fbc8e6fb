"""Time-based tracking upkeep: vehicles going offline by silence, and position partitions."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connection, transaction

from tenancy.context import operator_context

from .ingest.service import live_group
from .partitions import partitions_drop_expired, partitions_ensure
from .selectors import vehicle_live_list

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
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    for organization_id, vehicle_ids in by_org.items():
        vehicles = [
            v for v in vehicle_live_list(organization_id=organization_id) if v["id"] in vehicle_ids
        ]
        try:
            async_to_sync(layer.group_send)(
                live_group(organization_id), {"type": "positions.update", "vehicles": vehicles}
            )
        except Exception:
            logger.warning("offline broadcast failed; screens catch up on their next snapshot")


def positions_maintain() -> dict[str, Any]:
    """Create the coming days' partitions; drop those past the longest retention of any tenant."""
    with operator_context(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(MAX(position_retention_days), 90) FROM fleet_trackingsettings"
        )
        retention = max(int(cursor.fetchone()[0]), 90)
    return {
        "created": partitions_ensure(),
        "dropped": partitions_drop_expired(retention_days=retention),
    }
