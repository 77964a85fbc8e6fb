"""What alerts hears from the outbox. Handlers run in the relay's transaction and must be quick:
positions are evaluated by tasks enqueued on commit (one per relay transaction and chunk of
vehicles, however many flushes it relayed); delivery events are evaluated in place (a few
indexed queries)."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from tenancy.outbox import outbox_subscribe
from tenancy.outbox.models import OutboxEvent

from .evaluation.events import order_event_evaluate, stop_event_evaluate

POSITIONS_FLUSHED = "positions.flushed"
ORDER_STATUS_CHANGED = "order.status_changed"
STOP_ARRIVED = "stop.arrived"


# One evaluation task covers at most this many vehicles: the worker's processes share a busy
# relay batch's vehicles, and one task's transaction stays short.
EVALUATION_CHUNK_VEHICLES = 500


class _EvaluationEnqueue:
    """The on-commit callback of one relay transaction: every `positions.flushed` event it
    hands over adds its vehicles, and the commit enqueues one `alerts.evaluate_positions` per
    chunk of them. Under load a relay batch holds tens of flushes of mostly the same vehicles:
    a task per event would cost the worker its fixed work (rules, contexts, locks) per flush
    and queue the alert path behind it; per transaction the work follows the fixes."""

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        self.vehicle_ids: set[int] = set()
        self.since: dt.datetime | None = None

    def add(self, vehicle_ids: list[int], since: str | None) -> None:
        """The earliest first fix is the floor for a vehicle never evaluated."""
        self.vehicle_ids.update(vehicle_ids)
        first = dt.datetime.fromisoformat(since) if since else None
        if first and (self.since is None or first < self.since):
            self.since = first

    def __call__(self) -> None:
        from .tasks import evaluate_positions

        ordered = sorted(self.vehicle_ids)
        # After the commit of the fixes (they committed before their event was relayed): a run
        # of a vehicle started after this moment has them, and this one may skip the vehicle.
        requested_at = timezone.now().isoformat()
        for start in range(0, len(ordered), EVALUATION_CHUNK_VEHICLES):
            evaluate_positions.delay(
                organization_id=self.organization_id,
                vehicle_ids=ordered[start : start + EVALUATION_CHUNK_VEHICLES],
                since=self.since.isoformat() if self.since else None,
                requested_at=requested_at,
            )


def _evaluation_enqueue(organization_id: int) -> _EvaluationEnqueue:
    """This transaction's callback for the organization, registered on first use."""
    for _, callback, *_ in connection.run_on_commit:
        if isinstance(callback, _EvaluationEnqueue) and callback.organization_id == organization_id:
            return callback
    callback = _EvaluationEnqueue(organization_id)
    transaction.on_commit(callback)
    return callback


def positions_flushed_handle(event: OutboxEvent) -> None:
    vehicle_ids = [int(v) for v in event.payload.get("vehicle_ids") or [] if v is not None]
    if not vehicle_ids:
        return
    _evaluation_enqueue(event.organization_id).add(vehicle_ids, event.payload.get("first_fix_at"))


def delivery_event_handle(event: OutboxEvent) -> None:
    if event.kind == ORDER_STATUS_CHANGED:
        order_event_evaluate(event)
    elif event.kind == STOP_ARRIVED:
        stop_event_evaluate(event)


def alerts_subscribe() -> None:
    # Adds to this transaction's on-commit enqueue only: no savepoint needed.
    outbox_subscribe(
        "alerts.positions", [POSITIONS_FLUSHED], positions_flushed_handle, writes=False
    )
    outbox_subscribe(
        "alerts.deliveries", [ORDER_STATUS_CHANGED, STOP_ARRIVED], delivery_event_handle
    )
