"""Alert events to the consoles, by two paths that carry the same frames:

- the fast path: the streaming runner pushes the `alert.*` events it wrote straight to the
  channel layer once its transaction commits (`alert_events_push_on_commit`), so an alert is
  on the screens as soon as it exists, without waiting for the outbox relay;
- the guarantee: the "alerts-live" outbox subscriber hands every `alert.*` event (the fast
  path's again, the people's actions, the sweeps') to the same groups after the relay's
  transaction commits.

Both send to the channel-layer groups of the organization (every unscoped screen) and of the
alert's hub (the screens scoped to that hub), and both carry the outbox event's id as `seq`:
the inbox consumer forwards each `seq` once and never an older snapshot of an alert than one
it already sent (consumers.py), and the screens keep the newest `seq` per alert
(static/js/alerts/logic.js), so the relay's copy of a fast-path frame is dropped. Handlers
only register on-commit callbacks: quick, and a rolled-back transaction sends nothing. A
screen that misses a message (socket down, Redis hiccup) resyncs when it reconnects; the
outbox keeps the truth, the pushes are best effort.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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


def alert_events_push_on_commit(organization_id: int, events: Sequence[OutboxEvent]) -> None:
    """The fast path: once the caller's transaction commits, push these outbox events (just
    written in it, ids assigned) to the screens, as the relay will again later. Events of
    kinds the screens do not show are skipped."""
    require_organization(organization_id)
    messages = [
        ((event.payload or {}).get("hub_id"), alert_message(event))
        for event in events
        if event.kind in LIVE_KINDS
    ]
    if not messages:
        return

    def push() -> None:
        _bump_generation(organization_id)
        for hub_id, message in messages:
            _send(organization_id, hub_id, message)

    transaction.on_commit(push)


def alerts_live_subscribe() -> None:
    # On-commit pushes only: no savepoint needed.
    outbox_subscribe("alerts-live", LIVE_KINDS, alert_live_handle, writes=False)
