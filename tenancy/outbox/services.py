"""Emitting events and relaying them to subscribers."""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from tenancy.context import require_organization

from .models import OutboxDelivery, OutboxEvent
from .registry import Subscriber, outbox_subscribers

logger = logging.getLogger(__name__)

Status = OutboxDelivery.Status
ERROR_MAX_CHARS = 2000
BATCH_SIZE = 200
BATCHES_PER_RUN = 25
# Lock key space of the relay's advisory lock (the second key is the organization id).
ADVISORY_LOCK_CLASS = 0x0B0C


# --- Emitting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSpec:
    """One event for `outbox_emit_many`."""

    kind: str
    aggregate: str
    aggregate_id: int
    payload: dict[str, Any]


class _RelayEnqueue:
    """The on-commit callback that asks a worker to relay an organization's events; one per
    organization and transaction, however many events the transaction emitted."""

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id

    def __call__(self) -> None:
        outbox_relay_enqueue(organization_id=self.organization_id)


def outbox_relay_enqueue(*, organization_id: int) -> bool:
    """Best effort: when the broker is down the events stay pending and the beat sweep
    (outbox.relay_sweep) relays them once it is back. True when the message was sent."""
    from .tasks import outbox_relay  # the task module imports this one

    try:
        outbox_relay.apply_async((organization_id,), retry=False)
    except Exception:  # kombu's OperationalError, a refused socket, a DNS failure...
        logger.warning("outbox: could not enqueue the relay of organization %s", organization_id)
        return False
    return True


def _json_safe(payload: dict[str, Any]) -> dict[str, Any]:
    # Payloads hold datetimes as ISO strings; the encoder makes any stray value JSON-safe too.
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))  # type: ignore[no-any-return]


def outbox_relay_on_commit(organization_id: int) -> None:
    """Relay the organization's events once the caller's transaction commits (one enqueue per
    organization and transaction); for writers that insert outbox rows in SQL themselves."""
    already = any(
        isinstance(callback, _RelayEnqueue) and callback.organization_id == organization_id
        for _, callback, *_ in connection.run_on_commit
    )
    if not already:
        transaction.on_commit(_RelayEnqueue(organization_id))


def outbox_emit_many(*, organization_id: int, events: list[EventSpec]) -> list[OutboxEvent]:
    """Write events in the caller's transaction; relayed after it commits, gone if it rolls
    back. Must be called inside `transaction.atomic()`: an event outside the change's
    transaction could announce a change that never happened (or miss one that did)."""
    require_organization(organization_id)
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_emit must run inside the transaction of the change")
    if not events:
        return []
    now = timezone.now()
    rows = OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                organization_id=organization_id,
                kind=spec.kind,
                aggregate=spec.aggregate,
                aggregate_id=spec.aggregate_id,
                payload=_json_safe(spec.payload),
                occurred_at=now,
                next_attempt_at=now,
            )
            for spec in events
        ],
        batch_size=1000,
    )
    outbox_relay_on_commit(organization_id)
    return rows


def outbox_emit(
    *, organization_id: int, kind: str, aggregate: str, aggregate_id: int, payload: dict[str, Any]
) -> OutboxEvent:
    """One event; see outbox_emit_many."""
    spec = EventSpec(kind=kind, aggregate=aggregate, aggregate_id=aggregate_id, payload=payload)
    return outbox_emit_many(organization_id=organization_id, events=[spec])[0]


# --- Relaying -------------------------------------------------------------------------------


def outbox_retry_delay(*, attempts: int) -> dt.timedelta:
    """Backoff after the `attempts`-th failure of a handler: base x 2^(n-1), at most an hour."""
    seconds = settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** (max(attempts, 1) - 1)
    return dt.timedelta(seconds=min(seconds, 3600))


class _BatchWrites:
    """What one relay batch writes besides the handlers' own rows, held back and written in
    two statements at the end of its transaction: the new delivery rows (one insert) and the
    events every subscriber has done with (one update). A delivery row that already exists (a
    retry) and an event left waiting for a retry are saved one by one, as before; those are
    the rare ones."""

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        self.new_deliveries: list[OutboxDelivery] = []
        self.relayed: list[int] = []

    def delivery(self, delivery: OutboxDelivery) -> None:
        if delivery.pk is None:
            self.new_deliveries.append(delivery)
        else:
            delivery.save()

    def flush(self, now: dt.datetime) -> None:
        OutboxDelivery.objects.bulk_create(self.new_deliveries, batch_size=1000)
        if self.relayed:
            OutboxEvent.objects.filter(
                organization_id=self.organization_id, pk__any=self.relayed
            ).update(relayed_at=now)


def _handle(
    subscriber: Subscriber, event: OutboxEvent, delivery: OutboxDelivery, writes: _BatchWrites
) -> None:
    now = timezone.now()
    delivery.attempts += 1
    try:
        if subscriber.writes:
            # A savepoint: a failing handler's writes go, the relay's transaction stays usable.
            with transaction.atomic():
                subscriber.handler(event)
        else:
            subscriber.handler(event)
    except Exception as exc:
        logger.exception("outbox: %s failed on event %s", subscriber.name, event.pk)
        error = "".join(traceback.format_exception_only(exc)).strip()
        delivery.last_error = error[:ERROR_MAX_CHARS]
        if delivery.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
        else:
            delivery.next_attempt_at = now + outbox_retry_delay(attempts=delivery.attempts)
    else:
        delivery.status, delivery.delivered_at = Status.DELIVERED, now
        delivery.next_attempt_at, delivery.last_error = None, ""
    writes.delivery(delivery)


def _relay_event(
    event: OutboxEvent, deliveries: dict[tuple[int, str], OutboxDelivery], now: dt.datetime,
    writes: _BatchWrites,
) -> None:  # fmt: skip
    waiting: list[dt.datetime] = []
    for subscriber in outbox_subscribers(event.kind):
        delivery = deliveries.get((event.pk, subscriber.name)) or OutboxDelivery(
            organization_id=event.organization_id, event=event, subscriber=subscriber.name
        )
        if delivery.status != Status.PENDING:
            continue
        if delivery.next_attempt_at is None or delivery.next_attempt_at <= now:
            _handle(subscriber, event, delivery, writes)
        if delivery.status == Status.PENDING and delivery.next_attempt_at is not None:
            waiting.append(delivery.next_attempt_at)
    if waiting:
        event.next_attempt_at = min(waiting)
        event.save(update_fields=["next_attempt_at"])
    else:
        event.relayed_at = now
        writes.relayed.append(event.pk)


def _relay_batch(organization_id: int, after_id: int = 0) -> tuple[int, int]:
    """Relay up to BATCH_SIZE due events with ids above `after_id`; (events, the last id)."""
    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # One relay per organization at a time keeps its events in order; a second one
            # (the sweep's, say) finds the lock taken and leaves the work to the first.
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_CLASS, organization_id]
            )
            if not cursor.fetchone()[0]:
                return 0, after_id
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(organization_id=organization_id, relayed_at__isnull=True)
            .filter(next_attempt_at__lte=now, id__gt=after_id)
            .order_by("id")[:BATCH_SIZE]
        )
        if not events:
            return 0, after_id
        deliveries = {
            (delivery.event_id, delivery.subscriber): delivery
            for delivery in OutboxDelivery.objects.filter(
                organization_id=organization_id, event_id__any=[event.pk for event in events]
            )
        }
        writes = _BatchWrites(organization_id)
        for event in events:
            _relay_event(event, deliveries, now, writes)
        writes.flush(now)
    return len(events), events[-1].pk


def outbox_relay_run(*, organization_id: int) -> int:
    """Hand the organization's due events to their subscribers, in id order, in batches of
    short transactions, until a batch finds none; the number of events looked at.

    Another relay of the organization that found the advisory lock taken while this one
    worked has left its events to this one: stopping at a short batch would strand the events
    committed meanwhile until the next nudge or the beat sweep (seconds, on the alert path).
    Each batch looks past the previous one's last id: a failure is retried by a later run."""
    require_organization(organization_id)
    total, last_id = 0, 0
    for _ in range(BATCHES_PER_RUN):
        count, last_id = _relay_batch(organization_id, last_id)
        total += count
        if count == 0:
            break
    return total


def outbox_relay_sweep_run() -> int:
    """Enqueue a relay for every organization with due events: the path that catches events
    whose on-commit message was lost. A beat fan-out; its resolver names the organizations."""
    from .resolvers import outbox_organizations_pending

    organizations = outbox_organizations_pending(cutoff=timezone.now())
    for organization_id in organizations:
        outbox_relay_enqueue(organization_id=organization_id)
    return len(organizations)
