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

from .models import Order, Route, Stop

ORDER_CREATED = "order.created"
ORDER_STATUS_CHANGED = "order.status_changed"
ORDER_ETA_CHANGED = "order.eta_changed"
# An order's data changed (address, window, ...): for the event feed; webhooks announce the
# status and ETA kinds only.
ORDER_UPDATED = "order.updated"
ORDER_KINDS = (ORDER_CREATED, ORDER_STATUS_CHANGED, ORDER_ETA_CHANGED)
STOP_ARRIVED = "stop.arrived"
STOP_DEPARTED = "stop.departed"
STOP_KINDS = (STOP_ARRIVED, STOP_DEPARTED)
# A route was created, its plan changed (crew, stops, order, dispatch) or its status moved:
# for the event feed (a client syncing routes); webhooks announce orders and stops.
ROUTE_CHANGED = "route.changed"


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


def order_updated_emit(*, order: Order, fields: list[str]) -> None:
    """`order.updated` naming the fields that changed (their values stay in the database)."""
    payload = order_event_payload(order)
    payload["changed_fields"] = sorted(fields)
    outbox_emit(
        organization_id=order.organization_id,
        kind=ORDER_UPDATED,
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


def stop_event_payload(
    stop: Stop,
    *,
    route: Route,
    order_status: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> dict[str, Any]:
    """What a subscriber (alerts, rollups, customer notifications) learns about a visit: who
    (vehicle, driver), where in the plan (route, sequence, order), when (arrived / departed)
    and the position the driver's phone stamped on the action, when it sent one."""
    require_organization(stop.organization_id)
    return {
        "stop": {
            "id": stop.pk,
            "route_id": route.pk,
            "order_id": stop.order_id,
            "sequence": stop.sequence,
            "vehicle_id": route.vehicle_id,
            "driver_id": route.driver_id,
            "hub_id": route.hub_id,
            "order_status": order_status,
            "arrived_at": _iso(stop.actual_arrival),
            "departed_at": _iso(stop.actual_departure),
            "latitude": latitude,
            "longitude": longitude,
        }
    }


def stop_event_emit(
    *,
    kind: str,
    stop: Stop,
    route: Route,
    order_status: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> None:
    """`stop.arrived` or `stop.departed`, inside the visit's transaction."""
    if kind not in STOP_KINDS:
        raise ValueError(f"Not a stop event: {kind!r}")
    outbox_emit(
        organization_id=stop.organization_id,
        kind=kind,
        aggregate="stop",
        aggregate_id=stop.pk,
        payload=stop_event_payload(
            stop, route=route, order_status=order_status, latitude=latitude, longitude=longitude
        ),
    )


def route_changed_emit(*, route: Route) -> None:
    """`route.changed`: the route as it is now in its transaction (crew, status, plan version
    and the stops' order), a snapshot like every payload."""
    require_organization(route.organization_id)
    stop_ids = list(
        Stop.objects.filter(organization_id=route.organization_id, route_id=route.pk)
        .order_by("sequence")
        .values_list("pk", flat=True)
    )
    outbox_emit(
        organization_id=route.organization_id,
        kind=ROUTE_CHANGED,
        aggregate="route",
        aggregate_id=route.pk,
        payload={
            "route": {
                "id": route.pk,
                "hub_id": route.hub_id,
                "date": route.date.isoformat(),
                "vehicle_id": route.vehicle_id,
                "driver_id": route.driver_id,
                "status": route.status,
                "plan_version": route.plan_version,
                "stop_ids": stop_ids,
            }
        },
    )
