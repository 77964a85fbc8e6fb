"""Delivery events (from the outbox relay) evaluated against the event kinds: failed delivery,
and the kinds that join an order's state with the vehicle's positions (delivered or failed far
from the address, failed with no visit, arrived without being near).

These run inside the relay's savepoint (a few indexed queries each); an event seen twice finds
the alert it opened (the unique index, and the event id in the alert's details)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from alerts.models import Alert, SubjectType
from alerts.services.episodes import Finding, Subject, alert_open, cooldown_until
from deliveries.models import DeliveryEvent, Order, OrderStatus, ProofOfDelivery, Stop
from fleet.geo import haversine_m
from fleet.models import Position
from tenancy.outbox.models import OutboxEvent

from .rules import LoadedRule, org_rules_load

DONE = (OrderStatus.DELIVERED, OrderStatus.FAILED)


def _parse(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def vehicle_min_distance_m(
    *, organization_id: int, vehicle_id: int | None, lat: float, lon: float,
    start: dt.datetime, end: dt.datetime,
) -> float | None:  # fmt: skip
    """The vehicle's closest approach to a point between two times; None without positions."""
    if vehicle_id is None:
        return None
    points = Position.objects.filter(
        organization_id=organization_id, vehicle_id=vehicle_id, fix_time__gte=start,
        fix_time__lte=end,
    ).values_list("latitude", "longitude")  # fmt: skip
    return closest_approach_m(lat=lat, lon=lon, points=points)


def closest_approach_m(
    *, lat: float, lon: float, points: Iterable[tuple[float, float]]
) -> float | None:
    """Metres from (lat, lon) to the nearest of the points; None without points (pure)."""
    best = math.inf
    for plat, plon in points:
        best = min(best, haversine_m(lat, lon, plat, plon))
    return None if best == math.inf else best


def arrived_not_near_holds(*, closest_m: float | None, distance_m: float) -> bool:
    """A stop marked arrived is suspect when the vehicle's closest approach around the arrival
    stayed farther than the rule's distance. No positions at all prove nothing: quiet (pure)."""
    return closest_m is not None and closest_m > distance_m


def _open_once(loaded: LoadedRule, finding: Finding, event: OutboxEvent, now: dt.datetime) -> bool:
    rule = loaded.rule
    if not loaded.hours.active_at(now):
        return False
    already = Alert.objects.filter(
        organization_id=rule.organization_id, rule=rule, subject_type=finding.subject.type,
        subject_id=finding.subject.id, details__event_id=event.pk,
    ).exists()  # fmt: skip
    if already or cooldown_until(rule=rule, subject=finding.subject, at=now):
        return False
    finding.details["event_id"] = event.pk
    return alert_open(rule=rule, finding=finding, at=now)[1]


def _order_context(organization_id: int, order_id: int) -> tuple[Order, Stop | None] | None:
    order = Order.objects.filter(organization_id=organization_id, pk=order_id).first()
    if order is None:
        return None
    stop = (
        Stop.objects.filter(organization_id=organization_id, order=order)
        .select_related("route")
        .order_by("-route__date", "-id")
        .first()
    )
    return order, stop


def order_event_evaluate(event: OutboxEvent) -> int:
    """`order.status_changed` to delivered or failed: the event kinds of the order's rules."""
    organization_id = event.organization_id
    status = (event.payload.get("order") or {}).get("status")
    if status not in DONE:
        return 0
    found = _order_context(organization_id, event.aggregate_id)
    if found is None:
        return 0
    order, stop = found
    route = stop.route if stop else None
    vehicle_id = route.vehicle_id if route else None
    org = org_rules_load(organization_id)
    now = timezone.now()
    at = _parse(event.payload.get("order", {}).get("updated_at")) or event.occurred_at
    subject = Subject(
        SubjectType.ORDER, order.pk, order.reference, order_id=order.pk, hub_id=order.hub_id,
        route_id=route.pk if route else None, vehicle_id=vehicle_id,
    )  # fmt: skip
    opened = 0
    for loaded in org.rules:
        kind = loaded.rule.kind
        if not loaded.applies_to(hub_id=order.hub_id, vehicle_id=vehicle_id,
                                 route_id=route.pk if route else None):  # fmt: skip
            continue
        finding = None
        if kind == "delivery_failed" and status == OrderStatus.FAILED:
            finding = Finding(subject, at, {"status": status}, order.latitude, order.longitude)
        elif kind == "pod_far_from_address":
            finding = _pod_far(loaded, order, vehicle_id, status, at)
        elif kind == "failed_without_visit" and status == OrderStatus.FAILED:
            finding = _failed_without_visit(loaded, order, vehicle_id, at)
        if finding is not None:
            finding.subject = subject  # type: ignore[misc]
            opened += _open_once(loaded, finding, event, now)
    return opened


def _geo_stamp(order: Order, status: str) -> tuple[float, float] | None:
    proof = (
        ProofOfDelivery.objects.filter(organization_id=order.organization_id, order=order)
        .exclude(latitude__isnull=True)
        .values_list("latitude", "longitude")
        .first()
    )
    if proof:
        return proof
    stamped = (
        DeliveryEvent.objects.filter(
            organization_id=order.organization_id, order=order, to_status=status,
            latitude__isnull=False,
        )
        .order_by("-at")
        .values_list("latitude", "longitude")
        .first()
    )  # fmt: skip
    return stamped


def _pod_far(
    loaded: LoadedRule, order: Order, vehicle_id: int | None, status: str, at: dt.datetime
) -> Finding | None:
    if order.latitude is None or order.longitude is None:
        return None
    p = loaded.params
    around = dt.timedelta(minutes=p.around_minutes)
    stamp = _geo_stamp(order, status)
    phone_m = haversine_m(order.latitude, order.longitude, *stamp) if stamp else None
    vehicle_m = vehicle_min_distance_m(
        organization_id=order.organization_id, vehicle_id=vehicle_id, lat=order.latitude,
        lon=order.longitude, start=at - around, end=at + around,
    )  # fmt: skip
    known = [d for d in (phone_m, vehicle_m) if d is not None]
    if not known or min(known) <= p.distance_m:
        return None
    details = {"status": status, "distance_m": round(min(known))}
    if phone_m is not None:
        details["phone_m"] = round(phone_m)
    if vehicle_m is not None:
        details["vehicle_m"] = round(vehicle_m)
    lat, lon = stamp if stamp else (order.latitude, order.longitude)
    return Finding(Subject(SubjectType.ORDER, order.pk), at, details, lat, lon)


def _failed_without_visit(
    loaded: LoadedRule, order: Order, vehicle_id: int | None, at: dt.datetime
) -> Finding | None:
    if order.latitude is None or order.longitude is None:
        return None
    p = loaded.params
    closest = vehicle_min_distance_m(
        organization_id=order.organization_id, vehicle_id=vehicle_id, lat=order.latitude,
        lon=order.longitude, start=at - dt.timedelta(minutes=p.lookback_minutes), end=at,
    )  # fmt: skip
    if closest is None or closest <= p.distance_m:
        return None  # no positions: nothing to go by
    return Finding(
        Subject(SubjectType.ORDER, order.pk), at, {"closest_m": round(closest)},
        order.latitude, order.longitude,
    )  # fmt: skip


def stop_event_evaluate(event: OutboxEvent) -> int:
    """`stop.arrived`: a stop marked arrived with no vehicle position near it around then."""
    organization_id = event.organization_id
    payload = event.payload
    stop_id = (payload.get("stop") or {}).get("id") or payload.get("stop_id") or event.aggregate_id
    stop = (
        Stop.objects.filter(organization_id=organization_id, pk=stop_id)
        .select_related("route", "order")
        .first()
    )
    if stop is None or stop.actual_arrival is None or stop.order.latitude is None:
        return 0
    org = org_rules_load(organization_id)
    now = timezone.now()
    opened = 0
    for loaded in org.of_kind("arrived_not_near"):
        route = stop.route
        if not loaded.applies_to(
            hub_id=route.hub_id, vehicle_id=route.vehicle_id, route_id=route.pk
        ):
            continue
        p = loaded.params
        around = dt.timedelta(minutes=p.around_minutes)
        closest = vehicle_min_distance_m(
            organization_id=organization_id, vehicle_id=route.vehicle_id,
            lat=stop.order.latitude, lon=stop.order.longitude or 0.0,
            start=stop.actual_arrival - around, end=stop.actual_arrival + around,
        )  # fmt: skip
        if closest is None or not arrived_not_near_holds(
            closest_m=closest, distance_m=p.distance_m
        ):
            continue
        finding = Finding(
            Subject(SubjectType.STOP, stop.pk, stop.order.reference, route_id=route.pk,
                    order_id=stop.order_id, vehicle_id=route.vehicle_id, hub_id=route.hub_id),
            stop.actual_arrival, {"closest_m": round(closest), "limit_m": round(p.distance_m)},
            stop.order.latitude, stop.order.longitude,
        )  # fmt: skip
        opened += _open_once(loaded, finding, event, now)
    return opened
