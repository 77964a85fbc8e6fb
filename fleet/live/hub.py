"""One channel-layer subscription per organization per process, fanned out in memory.

With a channel per screen, every fix batch would be copied through Redis and decoded once per
screen (200 screens: 200 copies). Here each web process joins an organization's live group once,
decodes each message once, serializes each vehicle once, and hands the same objects to every
local screen of that organization. The hub also keeps:

- the organization's current picture (every vehicle, pre-serialized), loaded from the database
  once and kept current by the feed, so 200 screens connecting at once cost one query, not 200;
- one clock per refresh interval: every screen on that interval flushes on the same tick, from
  the same batch, and screens showing the same thing (no filter, same hub scope) share one
  encoded frame;
- the feed's health. When the channel layer (Redis) is away, the feed is *paused*: screens stay
  open and are told so (a `feed` frame), and the picture is reloaded from the database on the
  screens' refresh interval (at least every DEGRADED_POLL_SECONDS) and what changed goes out
  as ordinary updates. The pump retries every RETRY_SECONDS; when Redis answers again it
  rejoins the group, catches up from the database and flushes every clock at once, so a screen
  is current again within about a second of Redis' return, however long it was away."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import weakref
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from fleet.live.snapshot import vehicle_live_list
from tenancy.context import in_tenant

from .schema import (
    POSITIONS_UPDATE,
    live_group,
    vehicle_descriptive_key,
    vehicle_fix_time,
    vehicle_moving,
)

logger = logging.getLogger(__name__)

GROUP_REFRESH_SECONDS = 1800  # channels_redis forgets group members after a day
# While the channel layer is away: how often the pump tries it (a refused connection costs
# nothing), and the shortest period of the database polls that stand in for the feed.
CATCH_UP_DELAYS_SECONDS = (0.0, 1.0)
RETRY_SECONDS = 0.5
DEGRADED_POLL_SECONDS = 2.0
# The picture is reloaded from the database when older than this: vehicles added, renamed or
# moved to another hub in the admin reach new snapshots without an event of their own.
PICTURE_MAX_AGE_SECONDS = 15.0
LIVE_COALESCE_SECONDS = 0.1

EncodedVehicle = tuple[dict[str, Any], str]
Batch = dict[int, EncodedVehicle]


class Screen(Protocol):
    interval: int

    async def flush(self, batch: Batch, now: dt.datetime, shared: dict[Hashable, Any]) -> None: ...

    async def feed_changed(self, *, paused: bool) -> None:
        """The live feed stopped (Redis away: data comes from database polls) or came back."""


@dataclass
class Feed:
    """What one process knows and runs for one organization."""

    screens: set[Screen] = field(default_factory=set)
    picture: Batch = field(default_factory=dict)
    loaded_at: float | None = None
    loading: asyncio.Task[None] | None = None
    # Updates that arrive while the picture loads; applied on top of it if newer.
    arrived_during_load: Batch | None = None
    pump: asyncio.Task[None] | None = None
    # Set once the pump's first attempt to join the group is over (joined or not).
    join_attempted: asyncio.Event = field(default_factory=asyncio.Event)
    pending: dict[int, Batch] = field(default_factory=dict)  # interval -> vehicles since tick
    clocks: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    # The channel layer is away: the poller stands in for the feed until the pump is back.
    paused: bool = False
    poller: asyncio.Task[None] | None = None
    notices: set[asyncio.Task[None]] = field(default_factory=set)


class LiveHub:
    def __init__(self) -> None:
        self.feeds: dict[int, Feed] = {}
        # Cleared while any feed finds the channel layer away; screens' own channels wait on
        # it instead of each probing Redis (fleet/live/consumer.py).
        self.layer_up = asyncio.Event()
        self.layer_up.set()

    async def join(self, organization_id: int, screen: Screen) -> None:
        """Returns once this process is in the organization's group, so nothing sent after a
        screen connected can miss it; or, with Redis away, once the feed is paused (the screen
        is still served, from the database)."""
        feed = self.feeds.get(organization_id)
        if feed is None:
            feed = self.feeds[organization_id] = Feed()
        feed.screens.add(screen)
        if feed.pump is None:
            # Claim the slot before awaiting anything: two screens connecting at once start
            # one pump.
            feed.pump = asyncio.get_running_loop().create_task(self._pump(organization_id, feed))
        await feed.join_attempted.wait()

    def paused(self, organization_id: int) -> bool:
        feed = self.feeds.get(organization_id)
        return feed is not None and feed.paused

    async def layer_available(self, timeout: float) -> None:
        """Wait until no feed finds the channel layer away (at most `timeout` seconds)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.layer_up.wait(), timeout)

    def leave(self, organization_id: int, screen: Screen) -> None:
        feed = self.feeds.get(organization_id)
        if feed is None:
            return
        feed.screens.discard(screen)
        if not feed.screens:
            # The last screen is gone: forget the picture too, the next one loads it afresh.
            del self.feeds[organization_id]
            feed.join_attempted.set()  # nobody may wait on a pump that is going away
            for task in (feed.pump, feed.loading, feed.poller, *feed.clocks.values()):
                if task is not None:
                    task.cancel()
            if feed.paused and not any(f.paused for f in self.feeds.values()):
                self.layer_up.set()  # nobody is left to notice Redis' return

    def start_clock(self, organization_id: int, interval: int) -> None:
        """Make sure the interval's clock runs; its first tick is one interval from now."""
        feed = self.feeds[organization_id]
        if interval not in feed.clocks:
            feed.pending[interval] = {}
            feed.clocks[interval] = asyncio.get_running_loop().create_task(
                self._clock(feed, interval)
            )

    async def picture(self, organization_id: int) -> Batch:
        """Every vehicle of the organization, current; one database load shared by all the
        screens asking at the same time."""
        feed = self.feeds[organization_id]
        loop = asyncio.get_running_loop()
        if feed.loaded_at is None or loop.time() - feed.loaded_at > PICTURE_MAX_AGE_SECONDS:
            if feed.loading is None or feed.loading.done():
                feed.loading = loop.create_task(self._load(organization_id, feed))
            await asyncio.shield(feed.loading)
        return feed.picture

    async def _load(self, organization_id: int, feed: Feed) -> None:
        feed.arrived_during_load = {}
        try:
            # The hub's load task belongs to no request: the thread enters the organization.
            vehicles = await database_sync_to_async(in_tenant, thread_sensitive=False)(
                organization_id, vehicle_live_list, organization_id=organization_id
            )
            picture = {v["id"]: (v, json.dumps(v)) for v in vehicles}
            for vehicle_id, update in feed.arrived_during_load.items():
                loaded = picture.get(vehicle_id)
                if loaded is None:
                    continue  # not an active vehicle of the organization (any more)
                loaded_time, update_time = vehicle_fix_time(loaded[0]), vehicle_fix_time(update[0])
                if loaded_time is None or (update_time is not None and update_time > loaded_time):
                    picture[vehicle_id] = update
            feed.picture = picture
            feed.loaded_at = asyncio.get_running_loop().time()
        finally:
            feed.arrived_during_load = None

    async def _clock(self, feed: Feed, interval: int) -> None:
        period = interval or LIVE_COALESCE_SECONDS
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + period
        while True:
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            next_tick += period
            if next_tick < loop.time():  # fell behind (a long pause): do not fire a burst
                next_tick = loop.time() + period
            await self._tick(feed, interval)

    @staticmethod
    async def _tick(feed: Feed, interval: int) -> None:
        """Flush what arrived for `interval` to its screens (the clock's beat, or at once)."""
        batch, feed.pending[interval] = feed.pending.get(interval, {}), {}
        now = dt.datetime.now(dt.UTC)
        shared: dict[Hashable, Any] = {}
        for screen in [s for s in feed.screens if s.interval == interval]:
            try:
                await screen.flush(batch, now, shared)
            except asyncio.CancelledError:
                raise
            except Exception:  # one broken socket must not stop the others' clock
                logger.exception("live screen flush failed")

    async def _pump(self, organization_id: int, feed: Feed) -> None:
        layer = get_channel_layer()
        group = live_group(organization_id)
        loop = asyncio.get_running_loop()
        channel = await layer.new_channel()  # a name only: no Redis needed
        joined_at: float | None = None
        try:
            while True:
                try:
                    if joined_at is None or loop.time() - joined_at > GROUP_REFRESH_SECONDS:
                        await layer.group_add(group, channel)
                        joined_at = loop.time()
                        feed.join_attempted.set()
                        if feed.paused:
                            self._resume(organization_id, feed)
                    message = await layer.receive(channel)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Redis is away: screens stay open and are fed from the database; rejoin
                    # (a restarted Redis has forgotten the group) as soon as it answers.
                    joined_at = None
                    feed.join_attempted.set()
                    if not feed.paused:
                        logger.warning(
                            "live feed of organization %s paused: %r", organization_id, exc
                        )
                        self._pause(organization_id, feed)
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if message.get("type") == POSITIONS_UPDATE:
                    self._dispatch(feed, message.get("vehicles") or [])
        finally:
            with contextlib.suppress(Exception):  # best effort on the way out
                await asyncio.wait_for(layer.group_discard(group, channel), 2)

    # --- Redis away ---------------------------------------------------------------------------

    def _pause(self, organization_id: int, feed: Feed) -> None:
        feed.paused = True
        self.layer_up.clear()
        self._notify(feed, paused=True)
        loop = asyncio.get_running_loop()
        feed.poller = loop.create_task(self._poll_while_paused(organization_id, feed))

    def _resume(self, organization_id: int, feed: Feed) -> None:
        logger.warning("live feed of organization %s resumed", organization_id)
        feed.paused = False
        if feed.poller is not None:
            feed.poller.cancel()
            feed.poller = None
        if not any(f.paused for f in self.feeds.values()):
            self.layer_up.set()
        # What was stored while the group had no member never reached this process: read it
        # from the database, and flush it at once rather than on the next tick.
        task = asyncio.get_running_loop().create_task(self._catch_up(organization_id, feed))
        feed.notices.add(task)
        task.add_done_callback(feed.notices.discard)

    def _notify(self, feed: Feed, *, paused: bool) -> None:
        async def tell_screens() -> None:
            for screen in list(feed.screens):
                try:
                    await screen.feed_changed(paused=paused)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("live screen feed notice failed")

        task = asyncio.get_running_loop().create_task(tell_screens())
        feed.notices.add(task)
        task.add_done_callback(feed.notices.discard)

    @staticmethod
    def _poll_period(feed: Feed) -> float:
        intervals = [screen.interval for screen in feed.screens]
        return max(DEGRADED_POLL_SECONDS, float(min(intervals, default=DEGRADED_POLL_SECONDS)))

    async def _poll_while_paused(self, organization_id: int, feed: Feed) -> None:
        while feed.paused:
            await asyncio.sleep(self._poll_period(feed))
            try:
                await self._refresh(organization_id, feed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away too: try again next period
                logger.warning(
                    "live picture poll of organization %s failed: %r", organization_id, exc
                )

    async def _catch_up(self, organization_id: int, feed: Feed) -> None:
        # Twice: at once, and once more a second later, because fixes committed while this
        # process was rejoining the group were published to nobody here; without the second
        # look a screen with a long interval would wait for its next tick to see them.
        for delay in CATCH_UP_DELAYS_SECONDS:
            await asyncio.sleep(delay)
            try:
                await self._refresh(organization_id, feed)
            except Exception as exc:
                logger.warning("live catch-up of organization %s failed: %r", organization_id, exc)
            for interval in list(feed.clocks):
                await self._tick(feed, interval)
            if delay == 0:
                self._notify(feed, paused=False)

    async def _refresh(self, organization_id: int, feed: Feed) -> None:
        """Reload the picture from the database and queue what changed as updates."""
        before = feed.picture
        if feed.loading is None or feed.loading.done():
            feed.loading = asyncio.get_running_loop().create_task(self._load(organization_id, feed))
        await asyncio.shield(feed.loading)
        for vehicle_id, (vehicle, encoded) in feed.picture.items():
            known = before.get(vehicle_id)
            if known is not None and known[1] == encoded:
                continue
            update = self._update_of(known, vehicle, encoded)
            for pending in feed.pending.values():
                pending[vehicle_id] = update

    @staticmethod
    def _update_of(
        known: EncodedVehicle | None, vehicle: dict[str, Any], encoded: str
    ) -> EncodedVehicle:
        # Screens hold every vehicle's descriptive fields from their snapshot: an update
        # repeats them only when they changed, which halves the bytes of a busy frame.
        if known is not None and vehicle_descriptive_key(known[0]) == vehicle_descriptive_key(
            vehicle
        ):
            return (vehicle, json.dumps(vehicle_moving(vehicle)))
        return (vehicle, encoded)

    @classmethod
    def _dispatch(cls, feed: Feed, vehicles: list[dict[str, Any]]) -> None:
        for vehicle in vehicles:
            vehicle_id = vehicle["id"]
            known = feed.picture.get(vehicle_id)
            full = (vehicle, json.dumps(vehicle))
            update = cls._update_of(known, vehicle, full[1])
            if known is not None:  # a vehicle new since the load waits for the next
                feed.picture[vehicle_id] = full
            if feed.arrived_during_load is not None:
                feed.arrived_during_load[vehicle_id] = full
            for pending in feed.pending.values():
                pending[vehicle_id] = update


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LiveHub] = weakref.WeakKeyDictionary()


def live_hub() -> LiveHub:
    """The hub of the running event loop (one per server process; one per test loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = LiveHub()
    return hub
