"""Publishing committed vehicle states to an organization's live group: the one way into the
live feed (the ingest writer after each flush; the offline marking of maintenance).

Best effort on purpose: the states are already committed, so when Redis is down nothing is
lost; screens catch up from a database snapshot (docs/live-map.md)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync

from .schema import live_group, positions_update_message

logger = logging.getLogger(__name__)


class LiveBroadcaster:
    """The ingest writer's publisher. After a failure it sends nothing for `cooldown` seconds,
    then lets one flush's updates through as a probe while the others are dropped, so a Redis
    outage costs the flushes nothing (not a connect timeout each) and the feed resumes within
    about `cooldown` of Redis' return. What is dropped meanwhile is committed: screens read it
    from the database (fleet/live/hub.py)."""

    def __init__(self, *, timeout: float = 2.0, cooldown: float = 0.5) -> None:
        from channels.layers import get_channel_layer

        self.timeout = timeout
        self.cooldown = cooldown
        self.paused_until = 0.0
        self.failing = False
        self.probing = False
        # Build the channel layer now: its first use imports channels_redis and redis, which
        # inside the first flush would stall every request of the process for most of a second.
        get_channel_layer()

    async def __call__(self, updates: dict[int, list[dict[str, Any]]]) -> None:
        if time.monotonic() < self.paused_until or self.probing:
            return
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        self.probing = self.failing
        try:
            for organization_id, vehicles in updates.items():
                await asyncio.wait_for(
                    layer.group_send(
                        live_group(organization_id), positions_update_message(vehicles)
                    ),
                    self.timeout,
                )
        except Exception as exc:
            if not self.failing:
                logger.warning("live broadcast paused: %r", exc)
            self.failing = True
            self.paused_until = time.monotonic() + self.cooldown
            return
        finally:
            self.probing = False
        if self.failing:
            logger.warning("live broadcast resumed")
            self.failing = False


def live_publish(*, organization_id: int, vehicles: list[dict[str, Any]]) -> bool:
    """From synchronous code (a task): push `vehicles` (each a `V`) to the organization's
    screens. False when the channel layer could not take them."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(
            live_group(organization_id), positions_update_message(vehicles)
        )
    except Exception:
        logger.warning("live publish failed; screens catch up on their next snapshot")
        return False
    return True
