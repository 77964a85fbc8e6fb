"""Alert events to the consoles: the "alerts-live" outbox subscriber hands every `alert.*`
event to the channel-layer groups of the organization (every unscoped screen) and of the
alert's hub (the screens scoped to that hub), after the relay's transaction commits.

The handler only registers an on-commit callback: quick, and a rolled-back relay sends
nothing. A screen that misses a message (socket down, Redis hiccup) resyncs when it
reconnects; the outbox keeps the truth, this push is best effort.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction

from tenancy.context import require_organization
from tenancy.outbox import outbox_subscribe
from tenancy.outbox.models import OutboxEvent

from .services.actions import ACTION_KINDS

logger = logging.getLogger(__name__)

ENGINE_KINDS = ("alert.opened", "alert.updated", "alert.resolved", "alert.escalated")
LIVE_KINDS = tuple(dict.fromkeys((*ENGINE_KINDS, *ACTION_KINDS)))
MESSAGE_TYPE = "alert.event"  # -> AlertInboxConsumer.alert_event


def organization_group(organization_id: int) -> str:
    return f"alerts.org.{organization_id}"


def hub_group(organization_id: int, hub_id: int) -> str:
    return f"alerts.hub.{organization_id}.{hub_id}"


def open_count_generation_key(organization_id: int) -> str:
    """Bumped by every alert event: the navigation badge's cached counts are keyed by it."""
    return f"alerts:open-count-generation:{organization_id}"


def _bump_generation(organization_id: int) -> None:
    key = open_count_generation_key(organization_id)
    try:
        if not cache.add(key, 1, timeout=None):
            cache.incr(key)
    except Exception:  # a cache outage: the counts expire on their own within seconds
        logger.warning("alerts: could not invalidate the open counts", exc_info=True)


def alert_message(event: OutboxEvent) -> dict[str, Any]:
    return {"type": MESSAGE_TYPE, "event": event.kind, "seq": event.pk, "alert": event.payload}


def _send(organization_id: int, hub_id: int | None, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    groups = [organization_group(organization_id)]
    if hub_id:
        groups.append(hub_group(organization_id, hub_id))
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # Redis down: screens catch up when they reconnect
        logger.warning("alerts: live push of %s failed", message.get("event"), exc_info=True)


def alert_live_handle(event: OutboxEvent) -> None:
    require_organization(event.organization_id)
    payload = event.payload or {}
    hub_id = payload.get("hub_id")
    message = alert_message(event)
    organization_id = event.organization_id
    # The navigation badge's cached count is stale from this event on.
    transaction.on_commit(lambda: _bump_generation(organization_id))
    transaction.on_commit(lambda: _send(organization_id, hub_id, message))


def alerts_live_subscribe() -> None:
    outbox_subscribe("alerts-live", LIVE_KINDS, alert_live_handle)
