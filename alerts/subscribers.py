"""What alerts hears from the outbox. Handlers run in the relay's transaction and must be quick:
positions are evaluated by a task enqueued on commit (one per event: an organization's flushed
batch); delivery events are evaluated in place (a few indexed queries)."""

from __future__ import annotations

from django.db import transaction

from tenancy.outbox import outbox_subscribe
from tenancy.outbox.models import OutboxEvent

from .evaluation.events import order_event_evaluate, stop_event_evaluate

POSITIONS_FLUSHED = "positions.flushed"
ORDER_STATUS_CHANGED = "order.status_changed"
STOP_ARRIVED = "stop.arrived"


def positions_flushed_handle(event: OutboxEvent) -> None:
    vehicle_ids = [int(v) for v in event.payload.get("vehicle_ids") or [] if v is not None]
    if not vehicle_ids:
        return
    organization_id = event.organization_id
    since = event.payload.get("first_fix_at")

    def enqueue() -> None:
        from .tasks import evaluate_positions

        evaluate_positions.delay(
            organization_id=organization_id, vehicle_ids=vehicle_ids, since=since
        )

    transaction.on_commit(enqueue)


def delivery_event_handle(event: OutboxEvent) -> None:
    if event.kind == ORDER_STATUS_CHANGED:
        order_event_evaluate(event)
    elif event.kind == STOP_ARRIVED:
        stop_event_evaluate(event)


def alerts_subscribe() -> None:
    outbox_subscribe("alerts.positions", [POSITIONS_FLUSHED], positions_flushed_handle)
    outbox_subscribe(
        "alerts.deliveries", [ORDER_STATUS_CHANGED, STOP_ARRIVED], delivery_event_handle
    )
