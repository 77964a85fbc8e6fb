"""The live map websocket: transport only. Filtering is fleet.live, data is fleet.selectors."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tenancy.models import Membership
from tenancy.permissions import CONSOLE_ROLES
from tenancy.selectors import membership_for_user, membership_hub_ids

from .ingest.service import live_group
from .live import FilterError, LiveFilter, interval_parse, live_filter_parse
from .selectors import vehicle_live_list, zone_geometries

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
LIVE_COALESCE_SECONDS = 0.1
STALE_RESNAPSHOT_SECONDS = 30
HEARTBEAT_SECONDS = 5


@database_sync_to_async
def _membership(user: Any, organization_id: int | None) -> tuple[Membership | None, list[int]]:
    membership = membership_for_user(user=user, organization_id=organization_id)
    if membership is None:
        return None, []
    return membership, membership_hub_ids(membership=membership)


class LiveMapConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """One dispatcher screen: its filter and interval live here, server-side."""

    organization_id: int
    hub_ids: list[int]

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session") or {}
        membership, hub_ids = await _membership(user, session.get("organization_id"))
        if membership is None or membership.role not in CONSOLE_ROLES:
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.organization_id = membership.organization_id
        self.hub_ids = hub_ids
        self.filter = LiveFilter()
        self.interval = 5
        self.pending: dict[int, dict[str, Any]] = {}
        self.visible: set[int] = set()
        self.flush_task: asyncio.Task[None] | None = None
        self.subscribed = False
        self.last_sent = 0.0
        await self.channel_layer.group_add(live_group(self.organization_id), self.channel_name)
        await self.accept()

    async def refuse(self, code: int) -> None:
        # Accept, then close with our code: a refused handshake reaches the browser only as
        # 1006, and the screen would retry forever instead of saying "signed out" / "no access".
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.flush_task is not None:
            self.flush_task.cancel()
        if hasattr(self, "organization_id"):
            await self.channel_layer.group_discard(
                live_group(self.organization_id), self.channel_name
            )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "subscribe":
            await self.send_json({"type": "error", "message": "expected {type: subscribe}"})
            return
        try:
            zones = await database_sync_to_async(zone_geometries)(
                organization_id=self.organization_id
            )
            self.filter = live_filter_parse(content.get("filters"), zone_geometries=zones)
            self.interval = interval_parse(content.get("interval", 5))
        except FilterError as exc:
            await self.send_json({"type": "error", "message": str(exc)})
            return
        self.subscribed = True
        await self.send_snapshot()
        if self.flush_task is not None:
            self.flush_task.cancel()
        self.flush_task = asyncio.get_running_loop().create_task(self.flush_loop())

    async def send_snapshot(self) -> None:
        vehicles = await database_sync_to_async(vehicle_live_list)(
            organization_id=self.organization_id, hub_ids=self.hub_ids or None
        )
        now = dt.datetime.now(dt.UTC)
        matching = [v for v in vehicles if self.filter.matches(v, now=now)]
        self.pending.clear()
        self.visible = {v["id"] for v in matching}
        self.last_sent = asyncio.get_running_loop().time()
        await self.send_json(
            {"type": "snapshot", "vehicles": matching, "server_time": now.isoformat()}
        )

    async def positions_update(self, event: dict[str, Any]) -> None:
        """From the ingest pipeline (group_send): remember the latest per vehicle, send later."""
        if not self.subscribed:
            return
        for vehicle in event["vehicles"]:
            if self.hub_ids and vehicle.get("hub_id") not in self.hub_ids:
                continue  # a hub-scoped dispatcher never receives other hubs' vehicles
            self.pending[vehicle["id"]] = vehicle

    async def flush_loop(self) -> None:
        last_snapshot = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(self.interval or LIVE_COALESCE_SECONDS)
            if (
                self.filter.stale_minutes is not None
                and asyncio.get_running_loop().time() - last_snapshot > STALE_RESNAPSHOT_SECONDS
            ):
                # Vehicles become stale by *not* reporting, which no update announces.
                await self.send_snapshot()
                last_snapshot = asyncio.get_running_loop().time()
                continue
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            await self.heartbeat()
            return
        batch, self.pending = self.pending, {}
        now = dt.datetime.now(dt.UTC)
        shown, removed = [], []
        for vehicle_id, vehicle in batch.items():
            if self.filter.matches(vehicle, now=now):
                shown.append(vehicle)
                self.visible.add(vehicle_id)
            elif vehicle_id in self.visible:
                removed.append(vehicle_id)
                self.visible.discard(vehicle_id)
        if shown or removed:
            await self.send_update(shown, removed, now)
        else:
            await self.heartbeat()

    async def heartbeat(self) -> None:
        """An empty update now and then, so a quiet fleet does not look like a dead socket."""
        if asyncio.get_running_loop().time() - self.last_sent >= HEARTBEAT_SECONDS:
            await self.send_update([], [], dt.datetime.now(dt.UTC))

    async def send_update(
        self, shown: list[dict[str, Any]], removed: list[int], now: dt.datetime
    ) -> None:
        self.last_sent = asyncio.get_running_loop().time()
        await self.send_json(
            {
                "type": "update",
                "vehicles": shown,
                "removed": removed,
                "server_time": now.isoformat(),
            }
        )
