"""The live map websocket: transport only. Filtering is fleet.live, data is fleet.selectors,
and the feed comes from the process's LiveHub."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from functools import partial
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tenancy.models import Membership
from tenancy.permissions import CONSOLE_ROLES
from tenancy.selectors import membership_for_user, membership_hub_ids

from .live import FilterError, LiveFilter, interval_parse, live_filter_parse
from .live_hub import EncodedVehicle, live_hub
from .selectors import vehicle_live_list, zone_geometries

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
LIVE_COALESCE_SECONDS = 0.1
STALE_RESNAPSHOT_SECONDS = 30
HEARTBEAT_SECONDS = 5
# Daphne refuses websocket messages over 1 MiB; ~300 bytes a vehicle keeps a frame well under.
VEHICLES_PER_FRAME = 1000


# Read-only lookups run in the thread pool, not the one shared "sync thread": 200 screens
# connecting at once would otherwise queue behind each other's snapshots.
read_only = partial(database_sync_to_async, thread_sensitive=False)


@read_only
def _membership(user: Any, organization_id: int | None) -> tuple[Membership | None, list[int]]:
    membership = membership_for_user(user=user, organization_id=organization_id)
    if membership is None:
        return None, []
    return membership, membership_hub_ids(membership=membership)


def frames(kind: str, encoded: list[str], *, removed: list[int], now: dt.datetime) -> list[str]:
    """JSON frames of at most VEHICLES_PER_FRAME vehicles, built from pre-serialized vehicles.
    A snapshot's first part is "snapshot" (replace everything), the rest "snapshot_more"."""
    server_time = json.dumps(now.isoformat())
    parts = [
        encoded[i : i + VEHICLES_PER_FRAME] for i in range(0, len(encoded), VEHICLES_PER_FRAME)
    ]
    result = []
    for index, part in enumerate(parts or [[]]):
        frame_type = "snapshot_more" if kind == "snapshot" and index > 0 else kind
        tail = f',"removed":{json.dumps(removed)}' if kind == "update" and index == 0 else ""
        if kind == "update" and index > 0:
            tail = ',"removed":[]'
        result.append(
            f'{{"type":"{frame_type}","vehicles":[{",".join(part)}]{tail},'
            f'"server_time":{server_time}}}'
        )
    return result


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
        self.pending: dict[int, EncodedVehicle] = {}
        self.visible: set[int] = set()
        self.flush_task: asyncio.Task[None] | None = None
        self.subscribed = False
        self.last_sent = 0.0
        await live_hub().join(self.organization_id, self)
        await self.accept()

    async def refuse(self, code: int) -> None:
        # Accept, then close with our code: a refused handshake reaches the browser only as
        # 1006, and the screen would retry forever instead of saying "signed out" / "no access".
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "flush_task", None) is not None:
            self.flush_task.cancel()  # type: ignore[union-attr]
        if hasattr(self, "organization_id"):
            live_hub().leave(self.organization_id, self)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "subscribe":
            await self.send_json({"type": "error", "message": "expected {type: subscribe}"})
            return
        try:
            zones = await read_only(zone_geometries)(organization_id=self.organization_id)
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
        vehicles = await read_only(vehicle_live_list)(
            organization_id=self.organization_id, hub_ids=self.hub_ids or None
        )
        now = dt.datetime.now(dt.UTC)
        matching = [v for v in vehicles if self.filter.matches(v, now=now)]
        self.pending.clear()
        self.visible = {v["id"] for v in matching}
        await self.send_frames("snapshot", [json.dumps(v) for v in matching], [], now)

    def receive_positions(self, vehicles: list[EncodedVehicle]) -> None:
        """From the process's LiveHub: remember the latest per vehicle, send at the interval."""
        if not self.subscribed:
            return
        for vehicle, encoded in vehicles:
            if self.hub_ids and vehicle.get("hub_id") not in self.hub_ids:
                continue  # a hub-scoped dispatcher never receives other hubs' vehicles
            self.pending[vehicle["id"]] = (vehicle, encoded)

    async def flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last_snapshot = loop.time()
        while True:
            await asyncio.sleep(self.interval or LIVE_COALESCE_SECONDS)
            if (
                self.filter.stale_minutes is not None
                and loop.time() - last_snapshot > STALE_RESNAPSHOT_SECONDS
            ):
                # Vehicles become stale by *not* reporting, which no update announces.
                await self.send_snapshot()
                last_snapshot = loop.time()
                continue
            await self.flush()

    async def flush(self) -> None:
        batch, self.pending = self.pending, {}
        now = dt.datetime.now(dt.UTC)
        shown: list[str] = []
        removed: list[int] = []
        match_all = self.filter.is_empty
        for vehicle_id, (vehicle, encoded) in batch.items():
            if match_all or self.filter.matches(vehicle, now=now):
                shown.append(encoded)
                self.visible.add(vehicle_id)
            elif vehicle_id in self.visible:
                removed.append(vehicle_id)
                self.visible.discard(vehicle_id)
        if shown or removed:
            await self.send_frames("update", shown, removed, now)
        elif asyncio.get_running_loop().time() - self.last_sent >= HEARTBEAT_SECONDS:
            # An empty update now and then, so a quiet fleet does not look like a dead socket.
            await self.send_frames("update", [], [], now)

    async def send_frames(
        self, kind: str, encoded: list[str], removed: list[int], now: dt.datetime
    ) -> None:
        self.last_sent = asyncio.get_running_loop().time()
        for frame in frames(kind, encoded, removed=removed, now=now):
            await self.send(text_data=frame)
