"""The group-commit writer of one web process. Each request hands its fixes over and awaits the
flush that holds them; one flush is one transaction (COPY + upserts), so a request never opens
a transaction of its own.

Raw psycopg on purpose: this is the hottest path in the system, and the tenant is fully
determined by the device id (globally unique), so no scope lookup is needed per fix."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import psycopg

from fleet.live.schema import vehicle_live
from tenancy.outbox.raw import OUTBOX_INSERT_SQL, outbox_insert_params

from .copy_encoding import (
    COPY_SQL,
    DIRECT_COPY_SQL,
    INSERT_SQL,
    POSITION_TEMP_SQL,
    REFUSAL_COPY_SQL,
    REFUSAL_TEMP_SQL,
    REFUSAL_UPSERT_SQL,
    STATE_COPY_SQL,
    STATE_TEMP_SQL,
    STATE_UPSERT_SQL,
    RowEncodingError,
    copy_text,
    state_copy_text,
)
from .database import Unavailable
from .decode import Fix
from .directory import DeviceDirectory, DeviceInfo
from .events import RelayNudge, positions_flushed_events
from .filters import LastFix, derive_status, next_stationary_since

logger = logging.getLogger(__name__)

DUPLICATE = ("duplicate", "same device and fix time already stored")
INVALID_VALUE = "invalid_value"


# What the database raises for a bad value rather than for being away (or encoding a row raises
# in Python): the flush is split to find the fix, instead of answering all of it 503. A bug of
# ours raising anything else is no reason to refuse fixes: that still answers 503, so the
# devices keep them.
DATA_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError, RowEncodingError)


@dataclass(slots=True)
class Item:
    fix: Fix
    device: DeviceInfo
    server_time: dt.datetime
    refusal: tuple[str, str] | None = None
    outcome: str = ""  # stored / duplicate / rejected


Broadcast = Callable[[dict[int, list[dict[str, Any]]]], Coroutine[Any, Any, None]]


class GroupCommitWriter:
    """Collects items from many requests and writes them in one transaction per flush."""

    def __init__(
        self,
        conninfo: str,
        directory: DeviceDirectory,
        *,
        broadcast: Broadcast | None = None,
        relay_nudge: RelayNudge | None = None,
        max_delay: float = 0.02,
        max_batch: int = 5000,
    ) -> None:
        self.conninfo = conninfo
        self.directory = directory
        self.broadcast = broadcast
        self.relay_nudge = relay_nudge or RelayNudge()
        # Organizations whose positions.flushed events committed since the last relay nudge.
        self.flushed_organizations: set[int] = set()
        self.events_emitted = 0
        self.max_delay = max_delay
        self.max_batch = max_batch
        self.pending: list[tuple[list[Item], asyncio.Future[None]]] = []
        self.pending_count = 0
        self.oldest_pending_at = 0.0
        self.wakeup = asyncio.Event()
        self.full = asyncio.Event()
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.task: asyncio.Task[None] | None = None
        self.broadcast_tasks: set[asyncio.Task[None]] = set()
        self.flushes = 0
        self.copy_conflicts = 0
        self.isolations = 0

    async def submit(self, items: list[Item]) -> None:
        """Returns once the items are committed (each item's `outcome` is set); raises Unavailable."""
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.pending:
            self.oldest_pending_at = asyncio.get_running_loop().time()
        self.pending.append((items, future))
        self.pending_count += len(items)
        self.wakeup.set()
        if self.pending_count >= self.max_batch:
            self.full.set()
        await future

    async def _run(self) -> None:
        while True:
            await self.wakeup.wait()
            # Wait out the window from the oldest pending fix: what piled up during the last
            # flush has waited long enough already.
            remaining = self.oldest_pending_at + self.max_delay - asyncio.get_running_loop().time()
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.full.wait(), timeout=remaining)
            batch, self.pending, self.pending_count = self.pending, [], 0
            self.wakeup.clear()
            self.full.clear()
            if not batch:
                continue
            items = [item for group, _ in batch for item in group]
            try:
                updates = await self._flush_or_isolate(items)
            except Exception as exc:
                logger.warning("ingest flush failed, answering 503: %s", exc)
                await self._drop_connection()
                for _, future in batch:
                    if not future.done():
                        future.set_exception(Unavailable(str(exc)))
                self._nudge_relay()  # parts of an isolated flush may have committed
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
            self._nudge_relay()
            if updates and self.broadcast is not None:
                task = asyncio.get_running_loop().create_task(self.broadcast(updates))
                self.broadcast_tasks.add(task)
                task.add_done_callback(self.broadcast_tasks.discard)

    def _nudge_relay(self) -> None:
        if self.flushed_organizations:
            self.relay_nudge.request(self.flushed_organizations)
            self.flushed_organizations = set()

    async def _flush_or_isolate(self, items: list[Item]) -> dict[int, list[dict[str, Any]]]:
        """One flush; when the database refuses a value in it (the decoder should have caught
        it, so this is defence in depth), the bad fixes are found by halving the flush, the
        good ones stored and acknowledged, the bad ones refused. An outage still raises."""
        before = [(item.refusal, item.outcome) for item in items]
        try:
            return await self._flush(items)
        except DATA_ERRORS as exc:
            logger.warning("ingest flush refused a value (%r); isolating the bad fixes", exc)
        self.isolations += 1
        updates: dict[int, list[dict[str, Any]]] = {}
        await self._isolate(list(zip(items, before, strict=True)), updates)
        return updates

    async def _isolate(
        self,
        entries: list[tuple[Item, tuple[tuple[str, str] | None, str]]],
        updates: dict[int, list[dict[str, Any]]],
    ) -> None:
        if len(entries) == 1:
            await self._refuse_poisoned(entries[0][0])
            return
        middle = len(entries) // 2
        for half in (entries[:middle], entries[middle:]):
            for item, (refusal, outcome) in half:  # a failed attempt may have marked them
                item.refusal, item.outcome = refusal, outcome
            try:
                flushed = await self._flush([item for item, _ in half])
            except DATA_ERRORS:
                await self._isolate(half, updates)
                continue
            for organization_id, vehicles in flushed.items():
                updates.setdefault(organization_id, []).extend(vehicles)

    async def _refuse_poisoned(self, item: Item) -> None:
        """The one fix the database would not take: refused, and recorded when even that works."""
        item.refusal = (INVALID_VALUE, "refused by the database (a value it cannot store)")
        item.outcome = "rejected"
        conn = await self._connection()
        try:
            async with conn.transaction():
                await self._write_refusals(conn, [item])
        except DATA_ERRORS as exc:
            logger.warning(
                "could not record a poisoned fix of device %s: %r", item.device.device_id, exc
            )

    async def _drop_connection(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # already broken; closing is best effort
                await self.conn.close()
        self.conn = None

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self.conn is None or self.conn.closed:
            self.conn = await psycopg.AsyncConnection.connect(self.conninfo)
            await self.conn.execute(POSITION_TEMP_SQL)
            await self.conn.execute(STATE_TEMP_SQL)
            await self.conn.execute(REFUSAL_TEMP_SQL)
            await self.conn.commit()
        return self.conn

    async def _flush(self, items: list[Item]) -> dict[int, list[dict[str, Any]]]:
        conn = await self._connection()
        fresh = self._mark_repeats_in_batch(items)
        async with conn.transaction():
            if fresh and not await self._copy_new_positions(conn, fresh):
                await self._insert_positions_once(conn, fresh)
            for item in items:
                if item.refusal is None:
                    item.outcome = "stored"
                elif not item.outcome:
                    item.outcome = "rejected"
            stored = [i for i in items if i.outcome == "stored"]
            # The domain event commits with the fixes it announces, or not at all.
            events = positions_flushed_events(stored)
            if events:
                await conn.execute(OUTBOX_INSERT_SQL, outbox_insert_params(events))
            await self._write_refusals(conn, [i for i in items if i.refusal is not None])
            states = self._next_states(stored)
            advanced = await self._upsert_states(conn, states)
        self.flushes += 1
        self.events_emitted += len(events)
        self.flushed_organizations.update(organization_id for organization_id, _ in events)
        return self._remember(states, advanced)

    async def _copy_new_positions(
        self, conn: psycopg.AsyncConnection[Any], fresh: list[Item]
    ) -> bool:
        """The common case, at the speed of a bare COPY: fixes newer than anything this process
        stored for their vehicle go straight into fleet_position. A re-send that gets past that
        check (another process stored it) breaks the primary key, the savepoint rolls back, and
        the caller takes the careful path. Returns whether the rows are in."""
        last_fix = self.directory.last_fix
        for item in fresh:
            vehicle_id = item.device.vehicle_id
            previous = last_fix.get(vehicle_id) if vehicle_id is not None else None
            if vehicle_id is None or (
                previous is not None and previous.fix_time >= item.fix.fix_time
            ):
                return False  # likely a re-send or out of order: no point trying
        try:
            async with (
                conn.transaction(),
                conn.cursor() as cursor,
                cursor.copy(DIRECT_COPY_SQL) as copy,
            ):
                await copy.write(copy_text(fresh, with_seq=False))
        except psycopg.errors.UniqueViolation:
            self.copy_conflicts += 1
            return False
        return True

    @staticmethod
    async def _insert_positions_once(conn: psycopg.AsyncConnection[Any], fresh: list[Item]) -> None:
        """Rows already stored are skipped and their fixes reported as duplicates."""
        async with conn.cursor() as cursor:
            async with cursor.copy(COPY_SQL) as copy:
                await copy.write(copy_text(fresh))
            # Only the rows that were *not* inserted come back (normally none), so the common
            # case parses nothing.
            await cursor.execute(INSERT_SQL)
            for (seq,) in await cursor.fetchall():
                fresh[seq].outcome = "duplicate"
                fresh[seq].refusal = DUPLICATE

    @staticmethod
    def _mark_repeats_in_batch(items: list[Item]) -> list[Item]:
        """The accepted items to write; a second copy of a fix inside one flush is a duplicate."""
        seen: set[tuple[int, dt.datetime]] = set()
        fresh = []
        for item in items:
            if item.refusal is not None:
                continue
            key = (item.device.device_id, item.fix.fix_time)
            if key in seen:
                item.outcome = "duplicate"
                item.refusal = DUPLICATE
                continue
            seen.add(key)
            fresh.append(item)
        return fresh

    async def _write_refusals(self, conn: psycopg.AsyncConnection[Any], items: list[Item]) -> None:
        """One row per device, fix time and reason: a device that resends a refused fix
        counts up `repeats` on its row instead of adding one row per resend."""
        if not items:
            return
        rows: dict[tuple[int, dt.datetime, str], list[Any]] = {}
        for item in items:
            reason, detail = item.refusal or ("", "")
            key = (item.device.device_id, item.fix.fix_time, reason)
            row = rows.get(key)
            if row is not None:
                row[-1] += 1
                continue
            rows[key] = [
                item.device.organization_id,
                item.device.device_id,
                item.server_time,
                item.fix.fix_time,
                reason,
                detail[:200],
                json.dumps(item.fix.as_payload(), allow_nan=False),
                1,
            ]
        async with conn.cursor() as cursor:
            async with cursor.copy(REFUSAL_COPY_SQL) as copy:
                for row in rows.values():
                    await copy.write_row(row)
            await cursor.execute(REFUSAL_UPSERT_SQL)

    def _next_states(self, items: list[Item]) -> dict[int, tuple[Item, str, dt.datetime | None]]:
        """The newest stored fix per vehicle, with its derived status."""
        newest: dict[int, Item] = {}
        for item in items:
            vehicle_id = item.device.vehicle_id
            if vehicle_id is None:
                continue
            current = newest.get(vehicle_id)
            if current is None or current.fix.fix_time < item.fix.fix_time:
                newest[vehicle_id] = item
        states = {}
        for vehicle_id, item in newest.items():
            previous = self.directory.last_fix.get(vehicle_id)
            if previous is not None and previous.fix_time >= item.fix.fix_time:
                continue  # out of order: kept in history, never moves the vehicle
            limits = item.device.limits
            since = next_stationary_since(
                speed_kmh=item.fix.speed_kmh,
                fix_time=item.fix.fix_time,
                previous=previous,
                limits=limits,
            )
            status = derive_status(
                speed_kmh=item.fix.speed_kmh,
                ignition=item.fix.ignition,
                fix_time=item.fix.fix_time,
                stationary_since=since,
                now=item.server_time,
                limits=limits,
            )
            states[vehicle_id] = (item, status, since)
        return states

    async def _upsert_states(
        self,
        conn: psycopg.AsyncConnection[Any],
        states: dict[int, tuple[Item, str, dt.datetime | None]],
    ) -> set[int]:
        """One upsert of every vehicle's newest state, guarded by fix time. The rows travel by
        COPY text (adapting 14 arrays of thousands of values cost several times more), in
        vehicle order, so two flushes touching the same vehicles lock them in the same order."""
        if not states:
            return set()
        async with conn.cursor() as cursor:
            async with cursor.copy(STATE_COPY_SQL) as copy:
                await copy.write(state_copy_text(states))
            await cursor.execute(STATE_UPSERT_SQL)
            return {row[0] for row in await cursor.fetchall()}

    def _remember(
        self, states: dict[int, tuple[Item, str, dt.datetime | None]], advanced: set[int]
    ) -> dict[int, list[dict[str, Any]]]:
        updates: dict[int, list[dict[str, Any]]] = {}
        for vehicle_id in advanced:
            item, status, since = states[vehicle_id]
            fix = item.fix
            self.directory.last_fix[vehicle_id] = LastFix(
                fix.fix_time, fix.latitude, fix.longitude, since
            )
            updates.setdefault(item.device.organization_id, []).append(
                vehicle_live(
                    vehicle_id=vehicle_id,
                    descriptive=item.device.vehicle,
                    lat=fix.latitude,
                    lon=fix.longitude,
                    speed_kmh=fix.speed_kmh,
                    heading=fix.heading,
                    status=status,
                    fix_time=fix.fix_time,
                    battery_pct=fix.battery_pct,
                )
            )
        return updates
