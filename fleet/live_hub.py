"""One channel-layer subscription per organization per process, fanned out in memory.

With a channel per screen, every fix batch would be copied through Redis and decoded once per
screen (200 screens: 200 copies). Here each web process joins an organization's live group once,
decodes each message once, serializes each vehicle once, and hands the same objects to every
local screen of that organization; the screens only filter and concatenate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from typing import Any, Protocol

from channels.layers import get_channel_layer

from .ingest.service import live_group

logger = logging.getLogger(__name__)

GROUP_REFRESH_SECONDS = 1800  # channels_redis forgets group members after a day
RETRY_SECONDS = 1.0

EncodedVehicle = tuple[dict[str, Any], str]


class Screen(Protocol):
    def receive_positions(self, vehicles: list[EncodedVehicle]) -> None: ...


class LiveHub:
    def __init__(self) -> None:
        self.screens: dict[int, set[Screen]] = {}
        self.pumps: dict[int, asyncio.Task[None]] = {}

    async def join(self, organization_id: int, screen: Screen) -> None:
        """Returns once this process is in the organization's group, so nothing sent after a
        screen connected can miss it."""
        self.screens.setdefault(organization_id, set()).add(screen)
        if organization_id not in self.pumps:
            layer = get_channel_layer()
            channel = await layer.new_channel()
            # Claim the slot before awaiting, so two screens connecting at once start one pump.
            self.pumps[organization_id] = asyncio.get_running_loop().create_task(
                self._pump(organization_id, channel)
            )
            await layer.group_add(live_group(organization_id), channel)

    def leave(self, organization_id: int, screen: Screen) -> None:
        screens = self.screens.get(organization_id)
        if screens is None:
            return
        screens.discard(screen)
        if not screens:
            del self.screens[organization_id]
            pump = self.pumps.pop(organization_id, None)
            if pump is not None:
                pump.cancel()

    async def _pump(self, organization_id: int, channel: str) -> None:
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
                if message.get("type") == "positions.update":
                    self._dispatch(organization_id, message.get("vehicles") or [])
        finally:
            with contextlib.suppress(Exception):  # best effort on the way out
                await asyncio.wait_for(layer.group_discard(group, channel), 2)

    def _dispatch(self, organization_id: int, vehicles: list[dict[str, Any]]) -> None:
        encoded = [(vehicle, json.dumps(vehicle)) for vehicle in vehicles]
        for screen in list(self.screens.get(organization_id, ())):
            screen.receive_positions(encoded)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LiveHub] = weakref.WeakKeyDictionary()


def live_hub() -> LiveHub:
    """The hub of the running event loop (one per server process; one per test loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = LiveHub()
    return hub
