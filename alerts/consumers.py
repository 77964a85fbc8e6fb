"""The inbox websocket (/ws/alerts/): transport only.

On connect it checks the session's membership (like the live map), joins the organization's
group (unscoped members) or its hubs' groups (hub-scoped dispatchers), and says hello with the
open count. Then each `alert.*` event from alerts/live.py is forwarded as
`{"type": "alert", "event", "seq", "alert"}`, and a fresh open count follows, coalesced to at
most one count query per COUNT_COALESCE_SECONDS per screen however many alerts arrive.
An event reaches the consumer twice when the streaming runner pushed it on commit and the
outbox relay delivers it again: the consumer remembers the newest `seq` (outbox event id) it
forwarded per alert and drops an event at or below it (the copy, or an older snapshot
overtaken by a newer one), so the screen gets each alert change once, newest last.
Close codes as the live map's: 4401 signed out, 4403 no access.
While the channel layer (Redis) is away the socket stays open (fleet.live.channel_reader); when
it is back the consumer rejoins its groups, re-checks access and says hello again, so the screen
resyncs the events it missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from fleet.live.access import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    SocketAccessGuard,
    membership_on_connect,
    read_only,
)
from fleet.live.channel_reader import ResilientChannelReader, group_add, group_discard
from tenancy.context import in_tenant
from tenancy.permissions import CONSOLE_ROLES
from tenancy.sessions import user_socket_group

from .live import hub_group, organization_group
from .selectors import alert_open_count

logger = logging.getLogger(__name__)
COUNT_COALESCE_SECONDS = 1.0
# Alerts whose newest forwarded seq a consumer remembers (the oldest are forgotten first; a
# relayed copy arrives within seconds of its fast-path original).
SEEN_ALERTS_MAX = 4096


class AlertInboxConsumer(SocketAccessGuard, ResilientChannelReader, AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    organization_id: int
    hub_ids: list[int]
    groups_joined: list[str]
    socket_name = "alerts"
    accepted = False
    revoked = False
    count_task: asyncio.Task[None] | None = None
    sent_seq: dict[int, int]

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
        self.user = user
        self.session_key = getattr(session, "session_key", None)
        self.organization_id = membership.organization_id
        self.hub_ids = hub_ids
        self.sent_seq = {}
        self.groups_joined = (
            [hub_group(self.organization_id, hub_id) for hub_id in hub_ids]
            if hub_ids
            else [organization_group(self.organization_id)]
        )
        self.groups_joined.append(user_socket_group(user.pk))
        if not await self.join_groups():
            self.layer_lost = True  # Redis away: joined by `layer_back` once it returns
        await self.accept()
        self.accepted = True
        await self.send_json({"type": "hello", "open_count": await self.open_count()})
        self.rechecks_start()

    async def join_groups(self) -> bool:
        for group in self.groups_joined:
            if not await group_add(self, group):
                return False
        return True

    async def layer_back(self) -> bool:
        """Redis may be back: rejoin, re-check access, and say hello again; the screen treats
        a second hello as a reconnect and reloads the list (alert events were lost meanwhile)."""
        if not self.accepted or self.revoked:
            return True
        if not await self.join_groups():
            return False
        if await self.check_access():
            await self.send_json({"type": "hello", "open_count": await self.open_count()})
        return True

    async def refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        self.rechecks_stop()
        if self.count_task is not None:
            self.count_task.cancel()
        for group in getattr(self, "groups_joined", []):
            await group_discard(self, group)

    async def open_count(self) -> int:
        count: int = await read_only(in_tenant)(
            self.organization_id,
            alert_open_count,
            organization_id=self.organization_id,
            hub_ids=self.hub_ids,
        )
        return count

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        # The screen sends nothing but pings; anything else gets an error, the socket stays.
        try:
            content = json.loads(text_data or "")
        except ValueError:
            content = None
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
            return
        await self.send_json(
            {"type": "error", "error": "invalid_message", "message": "expected {type: ping}"}
        )

    async def alert_event(self, message: dict[str, Any]) -> None:
        if self.revoked:
            return
        alert = message.get("alert") or {}
        if self.hub_ids and alert.get("hub_id") not in self.hub_ids:
            return  # defence in depth: hub groups already scope this
        if not self.first_sight(alert.get("id"), message.get("seq")):
            return
        await self.send_json(
            {"type": "alert", "event": message.get("event"), "seq": message.get("seq"),
             "alert": alert}
        )  # fmt: skip
        if self.count_task is None or self.count_task.done():
            self.count_task = asyncio.create_task(self.send_count_soon())

    def first_sight(self, alert_id: Any, seq: Any) -> bool:
        """False for an event this screen already has, or an older one than it has."""
        if not isinstance(alert_id, int) or not isinstance(seq, int):
            return True
        if seq <= self.sent_seq.get(alert_id, 0):
            return False
        self.sent_seq.pop(alert_id, None)  # re-inserted last: the dict's order is recency
        self.sent_seq[alert_id] = seq
        if len(self.sent_seq) > SEEN_ALERTS_MAX:
            del self.sent_seq[next(iter(self.sent_seq))]
        return True

    async def send_count_soon(self) -> None:
        await asyncio.sleep(COUNT_COALESCE_SECONDS)
        if not self.revoked:
            await self.send_json({"type": "count", "open_count": await self.open_count()})

    async def revoke(self, code: int) -> None:
        if self.revoked:
            return
        self.revoked = True
        await self.close(code=code)

    def access_hub_scope(self) -> frozenset[int]:
        return frozenset(self.hub_ids)
