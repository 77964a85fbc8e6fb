"""The deliveries app's domain events (tenancy/outbox, docs/outbox.md). Services call these
inside the transaction of their change; subscribers (webhooks today; alerts, rollups and
customer notifications later) learn of the change from the relay, never from the service.

A payload is a snapshot taken at the change: the relay may run later, when the order has
moved on, and a subscriber must announce what happened, not what is true now."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tenancy.context import require_organization
from tenancy.outbox import outbox_emit, outbox_emit_many
from tenancy.outbox.services import EventSpec

from .models import Order, Stop

ORDER_CREATED = "order.created"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_ETA_CHANGED = "order.eta_changed"
ORDER_KINDS = (ORDER_CREATED, ORDER_STATUS_CHANGED, ORDER_ETA_CHANGED)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def order_event_payload(
    order: Order, *, eta: dt.datetime | None = None, eta_lookup: bool = True
) -> dict[str, Any]:
    """What a subscriber (and a webhook receiver) learns about an order: identity, status,
    window, ETA; no customer data beyond the reference, so a leaked endpoint log exposes no
    names, phones or addresses."""
    require_organization(order.organization_id)
    if eta is None and eta_lookup:
        eta = (
            Stop.objects.filter(
                organization_id=order.organization_id, order=order, eta__isnull=False
            )
            .order_by("-route__date", "-id")
            .values_list("eta", flat=True)
            .first()
        )
    return {
        "order": {
            "id": order.pk,
            "reference": order.reference,
            "tracking_code": order.tracking_code,
            "status": order.status,
            "window_start": _iso(order.window_start),
            "window_end": _iso(order.window_end),
            "eta": _iso(eta),
            "created_at": _iso(order.created_at),
            "updated_at": _iso(order.updated_at),
        }
    }


def order_events_emit(
    *, order: Order, from_status: str | None, eta: dt.datetime | None = None
) -> None:
    """`order.created` for a new order (`from_status` None), else `order.status_changed`
    with the previous status."""
    if from_status is None:
        # A new order has no stop yet, so no ETA to look up.
        payload = order_event_payload(order, eta=eta, eta_lookup=False)
        kind = ORDER_CREATED
    else:
        payload = order_event_payload(order, eta=eta)
        payload["previous_status"] = from_status
        kind = ORDER_STATUS_CHANGED
    outbox_emit(
        organization_id=order.organization_id,
        kind=kind,
        aggregate="order",
        aggregate_id=order.pk,
        payload=payload,
    )


def orders_created_emit(*, organization_id: int, orders: list[Order]) -> None:
    """`order.created` for many new orders in one insert (imports create thousands at once)."""
    outbox_emit_many(
        organization_id=organization_id,
        events=[
            EventSpec(
                kind=ORDER_CREATED,
                aggregate="order",
                aggregate_id=order.pk,
                payload=order_event_payload(order, eta_lookup=False),
            )
            for order in orders
        ],
    )


def order_eta_changed_emit(
    *, order: Order, eta: dt.datetime | None, previous_eta: dt.datetime | None = None
) -> None:
    """`order.eta_changed`; callers decide what change is worth announcing."""
    payload = order_event_payload(order, eta=eta)
    payload["previous_eta"] = _iso(previous_eta)
    outbox_emit(
        organization_id=order.organization_id,
        kind=ORDER_ETA_CHANGED,
        aggregate="order",
        aggregate_id=order.pk,
        payload=payload,
    )
