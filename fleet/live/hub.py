"""One channel-layer subscription per organization per process, fanned out in memory.

With a channel per screen, every fix batch would be copied through Redis and decoded once per
screen (200 screens: 200 copies). Here each web process joins an organization's live group once,
decodes each message once, serializes each vehicle once, and hands the same objects to every
local screen of that organization. The hub also keeps:

- the organization's current picture (every vehicle, pre-serialized), loaded from the database
  once and kept current by the feed, so 200 screens connecting at once cost one query, not 200;
- one clock per refresh interval: every screen on that interval flushes on the same tick, from
  the same batch, and screens showing the same thing (no filter, same hub scope) share one
  encoded frame."""

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

from fleet.selectors import vehicle_live_list
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
RETRY_SECONDS = 1.0
# The picture is reloaded from the database when older than this: vehicles added, renamed or
# moved to another hub in the admin reach new snapshots without an event of their own.
PICTURE_MAX_AGE_SECONDS = 15.0
LIVE_COALESCE_SECONDS = 0.1

EncodedVehicle = tuple[dict[str, Any], str]
Batch = dict[int, EncodedVehicle]


class Screen(Protocol):
    interval: int

    async def flush(self, batch: Batch, now: dt.datetime, shared: dict[Hashable, Any]) -> None: ...


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
    pending: dict[int, Batch] = field(default_factory=dict)  # interval -> vehicles since tick
    clocks: dict[int, asyncio.Task[None]] = field(default_factory=dict)


class LiveHub:
    def __init__(self) -> None:
        self.feeds: dict[int, Feed] = {}

    async def join(self, organization_id: int, screen: Screen) -> None:
        """Returns once this process is in the organization's group, so nothing sent after a
        screen connected can miss it."""
        feed = self.feeds.get(organization_id)
        if feed is None:
            feed = self.feeds[organization_id] = Feed()
        feed.screens.add(screen)
        if feed.pump is None:
            layer = get_channel_layer()
            channel = await layer.new_channel()
            # Claim the slot before awaiting, so two screens connecting at once start one pump.
            feed.pump = asyncio.get_running_loop().create_task(
                self._pump(organization_id, feed, channel)
            )
            await layer.group_add(live_group(organization_id), channel)

    def leave(self, organization_id: int, screen: Screen) -> None:
        feed = self.feeds.get(organization_id)
        if feed is None:
            return
        feed.screens.discard(screen)
        if not feed.screens:
            # The last screen is gone: forget the picture too, the next one loads it afresh.
            del self.feeds[organization_id]
            for task in (feed.pump, feed.loading, *feed.clocks.values()):
                if task is not None:
                    task.cancel()

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

    async def _pump(self, organization_id: int, feed: Feed, channel: str) -> None:
        layer = get_channel_layer()
        group = live_group(organization_id)
        loop = asyncio.get_running_loop()
        joined_at: float | None = loop.time()  # join() has added the channel
        try:
            while True:
                try:
                    if joined_at is None or loop.time() - joined_at > GROUP_REFRESH_SECONDS:
                        await layer.group_add(group, channel)
                        joined_at = loop.time()
                    message = await layer.receive(channel)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Redis is away: screens keep their last picture and show "stale"; rejoin
                    # (a restarted Redis has forgotten the group) and carry on.
                    logger.warning("live feed of organization %s paused: %r", organization_id, exc)
                    joined_at = None
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if message.get("type") == POSITIONS_UPDATE:
                    self._dispatch(feed, message.get("vehicles") or [])
        finally:
            with contextlib.suppress(Exception):  # best effort on the way out
                await asyncio.wait_for(layer.group_discard(group, channel), 2)

    @staticmethod
    def _dispatch(feed: Feed, vehicles: list[dict[str, Any]]) -> None:
        for vehicle in vehicles:
            vehicle_id = vehicle["id"]
            known = feed.picture.get(vehicle_id)
            full = (vehicle, json.dumps(vehicle))
            # Screens hold every vehicle's descriptive fields from their snapshot: an update
            # repeats them only when they changed, which halves the bytes of a busy frame.
            if known is not None and vehicle_descriptive_key(known[0]) == vehicle_descriptive_key(
                vehicle
            ):
                update = (vehicle, json.dumps(vehicle_moving(vehicle)))
            else:
                update = full
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
