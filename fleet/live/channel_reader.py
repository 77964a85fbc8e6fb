"""A consumer's own channel read so that it survives the channel layer (Redis) going away.

Channels' AsyncConsumer reads its channel with `channel_layer.receive`, which raises while Redis
is away, and the socket dies with 1011 at every outage. `ResilientChannelReader` reads it in a
loop instead: on failure it waits for the layer to come back (the LiveHub notices it first when
a live map is open; otherwise every LAYER_RETRY_SECONDS), then calls the consumer's
`layer_back()` to rejoin its groups before reading again. Messages sent to the consumer's groups
during the outage are lost, so `layer_back` is also where a consumer resyncs its screen.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from .hub import live_hub

logger = logging.getLogger(__name__)

# A call to the layer gives up after LAYER_TIMEOUT_SECONDS; while it is away the reader re-tries
# every LAYER_RETRY_SECONDS, or sooner once the hub finds it back (at most LAYER_WAIT_SECONDS).
LAYER_TIMEOUT_SECONDS = 2.0
LAYER_RETRY_SECONDS = 0.5
LAYER_WAIT_SECONDS = 10.0


class ResilientChannelReader:
    """Mixin, listed before AsyncConsumer (or a subclass): replaces its `__call__`."""

    channel_layer_alias: str
    channel_layer: Any
    channel_name: str
    layer_lost = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' AsyncConsumer.__call__, with the channel read by `receive_from_layer`."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        try:
            if self.channel_layer is not None:
                self.channel_name = await self.channel_layer.new_channel()
                await await_many_dispatch(
                    [receive, self.receive_from_layer],
                    self.dispatch,  # type: ignore[attr-defined]
                )
            else:
                await await_many_dispatch([receive], self.dispatch)  # type: ignore[attr-defined]
        except StopConsumer:
            pass

    async def layer_back(self) -> bool:
        """The layer may be back: rejoin groups (and resync). False: it is not, retry later.
        Never reads from the consumer's channel before this answered True, so no group message
        is waited for on a channel that is in no group."""
        return True

    async def receive_from_layer(self) -> dict[str, Any]:
        """The next message on this consumer's channel, however long Redis is away."""
        while True:
            if self.layer_lost:
                await asyncio.sleep(LAYER_RETRY_SECONDS)
                await live_hub().layer_available(timeout=LAYER_WAIT_SECONDS)
                if not await self.layer_back():
                    continue
                self.layer_lost = False
            try:
                message: dict[str, Any] = await self.channel_layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.info("socket channel unavailable: %r", exc)
                self.layer_lost = True
                continue
            return message


async def group_add(consumer: Any, group: str) -> bool:
    """Join `group`, giving up after LAYER_TIMEOUT_SECONDS; False when the layer is away."""
    try:
        await asyncio.wait_for(
            consumer.channel_layer.group_add(group, consumer.channel_name), LAYER_TIMEOUT_SECONDS
        )
    except Exception as exc:
        logger.info("socket could not join %s: %r", group, exc)
        return False
    return True


async def group_discard(consumer: Any, group: str) -> None:
    """Leave `group`; with the layer away, the membership expires by itself."""
    try:
        await asyncio.wait_for(
            consumer.channel_layer.group_discard(group, consumer.channel_name),
            LAYER_TIMEOUT_SECONDS,
        )
    except Exception as exc:
        logger.info("socket could not leave %s: %r", group, exc)
