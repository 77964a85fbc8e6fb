"""The `positions.flushed` domain event (docs/outbox.md, docs/tracking.md): one per organization
per flush that stored new fixes, written in the flush's transaction, so a subscriber (alerts'
streaming evaluation) hears of every stored fix exactly when it is committed, and of nothing
that rolled back.

The event names the vehicles and the fix-time range, not the fixes: subscribers read the new
fixes from fleet_position. After the commit the writer asks for a relay of each organization's
events through `RelayNudge`, which keeps the broker round trip off the ingest hot path."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tenancy.outbox.services import EventSpec

if TYPE_CHECKING:
    from .writer import Item

logger = logging.getLogger(__name__)

POSITIONS_FLUSHED = "positions.flushed"
AGGREGATE = "organization"


def positions_flushed_events(items: Iterable[Item]) -> list[tuple[int, EventSpec]]:
    """One event per organization for the items stored in a flush (outcome "stored") that
    belong to a vehicle; duplicates, refusals and vehicle-less devices announce nothing."""
    by_org: dict[int, tuple[set[int], list[Any]]] = {}
    for item in items:
        vehicle_id = item.device.vehicle_id
        if item.outcome != "stored" or vehicle_id is None:
            continue
        organization_id = item.device.organization_id
        entry = by_org.get(organization_id)
        fix_time = item.fix.fix_time
        if entry is None:
            by_org[organization_id] = ({vehicle_id}, [1, fix_time, fix_time])
            continue
        vehicles, counts = entry
        vehicles.add(vehicle_id)
        counts[0] += 1
        if fix_time < counts[1]:
            counts[1] = fix_time
        elif fix_time > counts[2]:
            counts[2] = fix_time
    return [
        (
            organization_id,
            EventSpec(
                kind=POSITIONS_FLUSHED,
                aggregate=AGGREGATE,
                aggregate_id=organization_id,
                payload=positions_flushed_payload(
                    vehicle_ids=vehicles, fix_count=count, first=first, last=last
                ),
            ),
        )
        for organization_id, (vehicles, (count, first, last)) in sorted(by_org.items())
    ]


def positions_flushed_payload(
    *, vehicle_ids: Iterable[int], fix_count: int, first: dt.datetime, last: dt.datetime
) -> dict[str, Any]:
    """The event's payload contract (docs/outbox.md)."""
    return {
        "vehicle_ids": sorted(vehicle_ids),
        "fix_count": fix_count,
        "first_fix_at": first.isoformat(),
        "last_fix_at": last.isoformat(),
    }


def _relay_enqueue(organization_id: int) -> None:
    from tenancy.outbox.services import outbox_relay_enqueue

    outbox_relay_enqueue(organization_id=organization_id)


class RelayNudge:
    """Asks a worker to relay organizations' events, at most once per `min_gap` seconds per
    organization, from a worker thread (a broker publish blocks; a broker outage blocks for its
    connect timeout). Ingest flushes every few tens of milliseconds: one relay message per
    flush would cost the hot path a broker round trip each time and wake the relay for a
    handful of events. An event committed inside the gap is covered by a trailing nudge at its
    end; if a nudge is lost (broker down) the beat sweep relays within ~10 s."""

    def __init__(
        self, *, min_gap: float = 0.25, enqueue: Callable[[int], None] = _relay_enqueue
    ) -> None:
        self.min_gap = min_gap
        self.enqueue = enqueue
        self.pending: set[int] = set()
        self.sent_at: dict[int, float] = {}
        self.task: asyncio.Task[None] | None = None
        self.wakeup = asyncio.Event()
        self.sent = 0

    def request(self, organization_ids: Iterable[int]) -> None:
        """After a commit: never waits."""
        self.pending.update(organization_ids)
        if not self.pending:
            return
        self.wakeup.set()  # a drain waiting out one organization's gap looks at the others
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self.pending:
            self.wakeup.clear()
            now = time.monotonic()
            gap = self.min_gap
            due = [o for o in self.pending if now - self.sent_at.get(o, -gap) >= gap]
            if not due:
                wake = min(self.sent_at[o] for o in self.pending) + gap
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), max(0.0, wake - now))
                continue
            for organization_id in due:
                self.pending.discard(organization_id)
                self.sent_at[organization_id] = now
            await asyncio.to_thread(self._send, sorted(due))

    def _send(self, organization_ids: list[int]) -> None:
        for organization_id in organization_ids:
            try:
                self.enqueue(organization_id)
                self.sent += 1
            except Exception:  # the sweep relays what a lost nudge would have
                logger.warning("outbox relay nudge failed for organization %s", organization_id)
