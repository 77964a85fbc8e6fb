"""What reporting hears from the outbox: late fixes and changed orders or stops mark their
rollup days dirty (reporting/dirty.py). Handlers write marks only; beat recomputes."""

from __future__ import annotations

import datetime as dt

from tenancy.outbox import outbox_subscribe
from tenancy.outbox.models import OutboxEvent

from . import dirty

POSITIONS_FLUSHED = "positions.flushed"
ORDER_STATUS_CHANGED = "order.status_changed"
STOP_KINDS = ("stop.arrived", "stop.departed")


def _moment(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) and value else None


def rollups_event_handle(event: OutboxEvent) -> None:
    organization_id = event.organization_id
    payload = event.payload or {}
    if event.kind == POSITIONS_FLUSHED:
        first = _moment(payload.get("first_fix_at"))
        last = _moment(payload.get("last_fix_at")) or first
        vehicles = [int(v) for v in payload.get("vehicle_ids") or [] if v is not None]
        if first and last and vehicles:
            dirty.fixes_arrived(
                organization_id=organization_id, vehicle_ids=vehicles, first=first, last=last
            )
    elif event.kind == ORDER_STATUS_CHANGED:
        dirty.order_changed(organization_id=organization_id, order_id=event.aggregate_id)
    elif event.kind in STOP_KINDS:
        route_id = (payload.get("stop") or {}).get("route_id")
        if route_id:
            dirty.route_changed(organization_id=organization_id, route_id=int(route_id))


def reporting_subscribe() -> None:
    outbox_subscribe(
        "reporting.rollups",
        [POSITIONS_FLUSHED, ORDER_STATUS_CHANGED, *STOP_KINDS],
        rollups_event_handle,
    )
