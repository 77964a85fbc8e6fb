"""The live map websocket: transport only. Filtering is fleet.live.filters, the frames are
fleet.live.schema, data is fleet.selectors, and the feed comes from the process's LiveHub."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Hashable
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from fleet.selectors import zone_geometries
from tenancy.context import in_tenant
from tenancy.permissions import CONSOLE_ROLES
from tenancy.sessions import user_socket_group

from .access import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    SocketAccessGuard,
    membership_on_connect,
    read_only,
)
from .channel_reader import ResilientChannelReader, group_add, group_discard
from .filters import FilterError, LiveFilter, interval_parse, live_filter_parse
from .hub import Batch, live_hub
from .schema import (
    FEED_LIVE,
    FEED_PAUSED,
    FRAME_SNAPSHOT,
    FRAME_UPDATE,
    error_frame,
    feed_frame,
    frames,
)

logger = logging.getLogger(__name__)

STALE_RESNAPSHOT_SECONDS = 30
HEARTBEAT_SECONDS = 5


class LiveMapConsumer(SocketAccessGuard, ResilientChannelReader, AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """One dispatcher screen: its filter and interval live here, server-side. The process's
    LiveHub supplies the picture for snapshots and calls `flush` on the interval's clock."""

    organization_id: int
    hub_ids: list[int]
    accepted = False
    revoked = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session") or {}
        membership, hub_ids = await membership_on_connect(user, session.get("organization_id"))
        if membership is None or membership.role not in CONSOLE_ROLES:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.organization_id = membership.organization_id
        self.hub_ids = hub_ids
        self.hub_set = frozenset(hub_ids)
        self.filter = LiveFilter()
        self.interval = 5
        self.visible: set[int] = set()
        self.subscribed = False
        self.last_sent = 0.0
        self.last_snapshot = 0.0
        self.user = user
        self.session_key = getattr(session, "session_key", None)
        # tenancy.sessions tells this group when the user's access may have ended. With Redis
        # away nothing can be sent to it either; the group is joined once the layer is back
        # (`layer_back`), and the timer re-checks access meanwhile.
        if not await self.join_user_group():
            self.layer_lost = True
        await live_hub().join(self.organization_id, self)
        await self.accept()
        self.accepted = True
        self.rechecks_start()

    async def join_user_group(self) -> bool:
        return await group_add(self, user_socket_group(self.user.pk))

    async def layer_back(self) -> bool:
        """The channel layer may be back: rejoin the user group and re-check access (a
        revocation sent during the outage was lost)."""
        if not self.accepted or self.revoked:
            return True
        if not await self.join_user_group():
            return False
        await self.check_access()
        return True

    async def feed_changed(self, *, paused: bool) -> None:
        """From the hub: tell the screen whether its data is live or polled from the database."""
        if self.accepted and not self.revoked:
            await self.send_json(
                feed_frame(FEED_PAUSED if paused else FEED_LIVE, now=dt.datetime.now(dt.UTC))
            )

    async def refuse(self, code: int) -> None:
        # Accept, then close with our code: a refused handshake reaches the browser only as
        # 1006, and the screen would retry forever instead of saying "signed out" / "no access".
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        self.subscribed = False
        self.rechecks_stop()
        if hasattr(self, "organization_id"):
            live_hub().leave(self.organization_id, self)
            await group_discard(self, user_socket_group(self.user.pk))

    async def revoke(self, code: int) -> None:
        """Stop the feed at once and close; later frames from the browser are ignored."""
        if self.revoked:
            return
        self.revoked = True
        self.subscribed = False
        live_hub().leave(self.organization_id, self)
        await self.close(code=code)

    def access_hub_scope(self) -> frozenset[int]:
        return self.hub_set

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        # A frame the screen cannot have meant gets an error answer; the socket stays open.
        if self.revoked:
            return
        if text_data is None:
            await self.send_error("invalid_json", "expected a JSON text frame")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error("invalid_json", "the frame is not valid JSON")
            return
        await self.receive_json(content)

    async def send_error(self, error: str, message: str) -> None:
        await self.send_json(error_frame(message, error))

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "subscribe":
            await self.send_error("invalid_message", "expected {type: subscribe}")
            return
        if not await self.check_access():
            return
        try:
            # Every read runs in a worker thread, inside this connection's organization.
            # Only the zones this screen's hubs may see: another hub's zone is "unknown".
            zones = await read_only(in_tenant)(
                self.organization_id,
                zone_geometries,
                organization_id=self.organization_id,
                hub_ids=self.hub_ids,
            )
            self.filter = live_filter_parse(content.get("filters"), zone_geometries=zones)
            self.interval = interval_parse(content.get("interval", 5))
        except FilterError as exc:
            await self.send_json(error_frame(str(exc)))
            return
        self.subscribed = False  # no clock flush between the snapshot and the new settings
        await self.send_snapshot()
        if self.revoked:  # access ended while the snapshot was being built
            return
        if live_hub().paused(self.organization_id):
            # The snapshot is the database's; what follows comes from polls until Redis is back.
            await self.send_json(feed_frame(FEED_PAUSED, now=dt.datetime.now(dt.UTC)))
        self.subscribed = True
        live_hub().start_clock(self.organization_id, self.interval)

    def in_scope(self, vehicle: dict[str, Any]) -> bool:
        # A hub-scoped dispatcher never receives other hubs' vehicles.
        return not self.hub_set or vehicle.get("hub_id") in self.hub_set

    async def send_snapshot(self) -> None:
        picture = await live_hub().picture(self.organization_id)
        now = dt.datetime.now(dt.UTC)
        shown = [
            (vehicle, encoded)
            for vehicle, encoded in picture.values()
            if self.in_scope(vehicle) and self.filter.matches(vehicle, now=now)
        ]
        self.visible = {vehicle["id"] for vehicle, _ in shown}
        self.last_snapshot = asyncio.get_running_loop().time()
        await self.send_frames(FRAME_SNAPSHOT, [encoded for _, encoded in shown], [], now)

    async def flush(self, batch: Batch, now: dt.datetime, shared: dict[Hashable, Any]) -> None:
        """Called by the hub on this screen's interval clock with what arrived since the last
        tick. Screens without a filter and with the same hub scope share one set of frames."""
        if not self.subscribed:
            return
        loop = asyncio.get_running_loop()
        if (
            self.filter.stale_minutes is not None
            and loop.time() - self.last_snapshot > STALE_RESNAPSHOT_SECONDS
        ):
            # Vehicles become stale by *not* reporting, which no update announces.
            await self.send_snapshot()
            return
        if self.filter.is_empty:
            key = ("all", self.hub_set)
            if key not in shared:
                encoded = [enc for vehicle, enc in batch.values() if self.in_scope(vehicle)]
                shared[key] = frames(FRAME_UPDATE, encoded, removed=[], now=now) if encoded else []
            update_frames: list[str] = shared[key]
        else:
            update_frames = self.filtered_frames(batch, now)
        if update_frames:
            await self.send_all(update_frames)
        elif loop.time() - self.last_sent >= HEARTBEAT_SECONDS:
            # An empty update now and then, so a quiet fleet does not look like a dead socket.
            await self.send_frames(FRAME_UPDATE, [], [], now)

    def filtered_frames(self, batch: Batch, now: dt.datetime) -> list[str]:
        shown: list[str] = []
        removed: list[int] = []
        for vehicle_id, (vehicle, encoded) in batch.items():
            if not self.in_scope(vehicle):
                continue
            if self.filter.matches(vehicle, now=now):
                shown.append(encoded)
                self.visible.add(vehicle_id)
            elif vehicle_id in self.visible:
                removed.append(vehicle_id)
                self.visible.discard(vehicle_id)
        if not shown and not removed:
            return []
        return frames(FRAME_UPDATE, shown, removed=removed, now=now)

    async def send_frames(
        self, kind: str, encoded: list[str], removed: list[int], now: dt.datetime
    ) -> None:
        await self.send_all(frames(kind, encoded, removed=removed, now=now))

    async def send_all(self, texts: list[str]) -> None:
        self.last_sent = asyncio.get_running_loop().time()
        for text in texts:
            await self.send(text_data=text)
