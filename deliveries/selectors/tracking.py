"""What the public tracking page may show: one order, found by its unguessable code.

The code is the only key. It is looked up before any scope (as an API token is), and every
other read runs inside the order's organization. The result holds display-ready values only —
no ids, no other customers, no driver surname, no precise internal timestamps — so neither the
template nor the JSON can show more than this module decided to.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from fleet.geo import haversine_m
from fleet.models import VehicleState
from tenancy.context import require_organization

from ..models import DeliveryEvent, Order, OrderStatus, ProofOfDelivery, Stop
from ..resolvers import order_locate_by_tracking_code
from ..templatetags.deliveries import delivery_tone
from ..transitions import FINAL_STATUSES, STOP_DONE_STATUSES

S = OrderStatus

# The vehicle is shown when this order is the route's next open stop, or the vehicle is this close.
NEAR_METERS = 2_000
# An older position would show the vehicle where it no longer is.
POSITION_MAX_AGE = dt.timedelta(minutes=15)
# The customer sees a window around the ETA, never the computed instant.
ETA_MARGIN = dt.timedelta(minutes=10)
ETA_ROUND = dt.timedelta(minutes=5)
EN_DASH = "\N{EN DASH}"
# Real codes are 22 characters of the URL-safe alphabet; anything else is not worth a query
# (and a NUL byte would not even reach PostgreSQL).
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

EN_ROUTE_STATUSES = (S.OUT_FOR_DELIVERY, S.ARRIVED)
ETA_STATUSES = (S.CREATED, S.ASSIGNED, S.OUT_FOR_DELIVERY)

# status -> (headline, one sentence), in the customer's words.
STATUS_TEXT: dict[str, tuple[str, str]] = {
    S.CREATED: ("Order received", "We have your order and are planning its delivery."),
    S.ASSIGNED: ("Scheduled for delivery", "Your order is planned on a delivery route."),
    S.OUT_FOR_DELIVERY: ("On its way", "Your order is out for delivery."),
    S.ARRIVED: ("Your driver has arrived", "Your driver is at your address now."),
    S.DELIVERED: ("Delivered", "Your order has been delivered."),
    S.FAILED: (
        "We missed you",
        "We could not deliver your order this time. We will be in touch about a new attempt.",
    ),
    S.RETURNED_TO_HUB: (
        "Returned to the depot",
        "Your order went back to our depot. We will be in touch about what happens next.",
    ),
    S.CANCELLED: ("Cancelled", "This delivery has been cancelled."),
}
OUTCOME_LABELS: dict[str, str] = {
    S.DELIVERED: "Delivered",
    S.FAILED: "Delivery attempt failed",
    S.RETURNED_TO_HUB: "Returned to the depot",
    S.CANCELLED: "Cancelled",
}
# The timeline's steps: which statuses reach each, and its label.
STEPS: tuple[tuple[tuple[str, ...], str], ...] = (
    ((S.CREATED, S.ASSIGNED), "Order received"),
    ((S.OUT_FOR_DELIVERY,), "Out for delivery"),
    ((S.ARRIVED,), "Driver at your door"),
)


@dataclass(frozen=True)
class TrackingStep:
    label: str
    state: str  # done, current, upcoming, or skipped (never reached before the outcome)
    tone: str  # the delivery-status colour class of the step's status
    at: str = ""


@dataclass(frozen=True)
class TrackingProof:
    recipient_name: str
    delivered_at: str
    photo_url: str | None
    signature_url: str | None


@dataclass(frozen=True)
class TrackingPoint:
    lat: float
    lon: float


@dataclass(frozen=True)
class OrderTracking:
    """Everything the public may know about one order, as display strings and plain values."""

    code: str
    reference: str
    organization_name: str
    status: str
    headline: str
    message: str
    steps: list[TrackingStep]
    window: str
    eta_window: str
    late: bool
    driver_first_name: str
    # Open stops before this one on its route; None when not on the road yet.
    stops_before: int | None
    vehicle: TrackingPoint | None
    destination: TrackingPoint | None
    proof: TrackingProof | None
    # Nothing will change any more: the page stops polling.
    final: bool = False
    updated: str = field(default="")

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("code")
        return data


# ---- Pure pieces -------------------------------------------------------------------------------


def _round_down(value: dt.datetime, step: dt.timedelta) -> dt.datetime:
    seconds = step.total_seconds()
    return dt.datetime.fromtimestamp(value.timestamp() // seconds * seconds, tz=dt.UTC)


def eta_window(
    eta: dt.datetime, *, margin: dt.timedelta = ETA_MARGIN, step: dt.timedelta = ETA_ROUND
) -> tuple[dt.datetime, dt.datetime]:
    """A window of ±`margin` around `eta`, widened outward to whole `step`s."""
    start = _round_down(eta - margin, step)
    end = _round_down(eta + margin, step)
    if end < eta + margin:
        end += step
    return start, end


def time_text(value: dt.datetime, *, tz: dt.tzinfo, today: dt.date) -> str:
    local = timezone.localtime(value, tz)
    return f"{local:%H:%M}" if local.date() == today else f"{local:%a %d %b, %H:%M}"


def span_text(start: dt.datetime, end: dt.datetime, *, tz: dt.tzinfo, today: dt.date) -> str:
    """'14:30-14:50' today, 'Thu 26 Nov, 09:00-11:00' on another day, both days if it spans
    (with an en dash, as typography asks for ranges)."""
    local_start, local_end = timezone.localtime(start, tz), timezone.localtime(end, tz)
    day = "" if local_start.date() == today else f"{local_start:%a %d %b}, "
    if local_start.date() == local_end.date():
        return f"{day}{local_start:%H:%M}{EN_DASH}{local_end:%H:%M}"
    return f"{time_text(start, tz=tz, today=today)} {EN_DASH} {time_text(end, tz=tz, today=today)}"


def first_name(full_name: str) -> str:
    return full_name.split()[0] if full_name.strip() else ""


def steps_build(status: str, reached_at: dict[str, str]) -> list[TrackingStep]:
    """The step timeline for `status`; `reached_at` holds each status's latest time text."""
    outcome = status in OUTCOME_LABELS
    current = len(STEPS) if outcome else next(i for i, s in enumerate(STEPS) if status in s[0])
    steps = []
    for index, (statuses, label) in enumerate(STEPS):
        at = next((reached_at[s] for s in reversed(statuses) if s in reached_at), "")
        if index < current:
            state = "done" if at or not outcome else "skipped"
        else:
            state = "current" if index == current else "upcoming"
        tone = delivery_tone(status if index == current else statuses[-1])
        steps.append(TrackingStep(label, state, tone, at if state != "upcoming" else ""))
    steps.append(
        TrackingStep(
            OUTCOME_LABELS.get(status, "Delivered"),
            "current" if outcome else "upcoming",
            delivery_tone(status if outcome else S.DELIVERED),
            reached_at.get(status, "") if outcome else "",
        )
    )
    return steps


def vehicle_shown(*, status: str, stops_before: int | None, distance_m: float | None) -> bool:
    """The vehicle's position is the customer's business only when it is about to be theirs."""
    if status not in EN_ROUTE_STATUSES:
        return False
    return stops_before == 0 or (distance_m is not None and distance_m <= NEAR_METERS)


# ---- Reads -------------------------------------------------------------------------------------


def tracking_order_locate(*, code: str) -> tuple[int, int] | None:
    """(organization id, order id) of the order with tracking code `code`, or None.

    The public page's one read across tenants: the code is what names the organization, so its
    resolver answers before any context; the caller then enters that organization's context."""
    if not CODE_PATTERN.fullmatch(code):
        return None
    return order_locate_by_tracking_code(code=code)


def _current_stop(order: Order) -> Stop | None:
    # A reattempt puts the order on a newer route: the latest stop is the one that counts.
    return (
        Stop.objects.filter(organization_id=order.organization_id, order=order)
        .select_related("route__vehicle", "route__driver")
        .order_by("-route__date", "-id")
        .first()
    )


def _stops_before(stop: Stop) -> int:
    return (
        Stop.objects.filter(
            organization_id=stop.organization_id, route_id=stop.route_id, sequence__lt=stop.sequence
        )
        .exclude(Q(actual_departure__isnull=False) | Q(order__status__in=STOP_DONE_STATUSES))
        .count()
    )


def _vehicle_position(stop: Stop, now: dt.datetime) -> VehicleState | None:
    if stop.route.vehicle_id is None:
        return None
    state = VehicleState.objects.filter(
        organization_id=stop.organization_id,
        vehicle_id=stop.route.vehicle_id,
        fix_time__gte=now - POSITION_MAX_AGE,
    ).first()
    return state  # type: ignore[no-any-return]


def _proof_file_url(code: str, proof: ProofOfDelivery, kind: str) -> str | None:
    """The public POD file URL (deliveries/views/pod.py), offered only when a file exists."""
    if not getattr(proof, kind):
        return None
    try:
        return reverse(
            "driver:tracking_pod_file",
            kwargs={"tracking_code": code, "proof_id": proof.pk, "kind": kind},
        )
    except NoReverseMatch:  # the POD views are not installed: the page still renders
        return None


def _proof(order: Order, *, tz: dt.tzinfo, today: dt.date) -> TrackingProof | None:
    proof = ProofOfDelivery.objects.filter(
        organization_id=order.organization_id, order=order
    ).first()
    if proof is None:
        return None
    return TrackingProof(
        recipient_name=proof.recipient_name,
        delivered_at=time_text(proof.captured_at or proof.received_at, tz=tz, today=today),
        photo_url=_proof_file_url(order.tracking_code, proof, "photo"),
        signature_url=_proof_file_url(order.tracking_code, proof, "signature"),
    )


def _reached_at(order: Order, *, tz: dt.tzinfo, today: dt.date) -> dict[str, str]:
    reached: dict[str, str] = {}
    events = DeliveryEvent.objects.filter(organization_id=order.organization_id, order=order)
    for to_status, at in events.values_list("to_status", "at"):
        reached[to_status] = time_text(at, tz=tz, today=today)  # oldest first: latest wins
    return reached


def _map_points(
    order: Order, state: VehicleState | None, *, status: str, stops_before: int | None
) -> tuple[TrackingPoint | None, TrackingPoint | None]:
    """(vehicle, destination) when the vehicle may be shown, else (None, None)."""
    if state is None or order.latitude is None or order.longitude is None:
        return None, None
    distance = haversine_m(state.latitude, state.longitude, order.latitude, order.longitude)
    if not vehicle_shown(status=status, stops_before=stops_before, distance_m=distance):
        return None, None
    vehicle = TrackingPoint(round(state.latitude, 5), round(state.longitude, 5))
    return vehicle, TrackingPoint(order.latitude, order.longitude)


def _eta_text(stop: Stop | None, *, status: str, tz: dt.tzinfo, today: dt.date) -> str:
    eta = (stop.eta or stop.planned_arrival) if stop is not None else None
    if eta is None or status not in ETA_STATUSES:
        return ""
    return span_text(*eta_window(eta), tz=tz, today=today)


def order_tracking_get(
    *, organization_id: int, order_id: int, now: dt.datetime | None = None
) -> OrderTracking | None:
    """The public view of the order (located by `tracking_order_locate`), or None when it is
    gone. The caller has entered the organization's context."""
    require_organization(organization_id)
    order = (
        Order.objects.select_related("organization")
        .filter(organization_id=organization_id, pk=order_id)
        .first()
    )
    if order is None:
        return None
    now = now or timezone.now()
    organization = order.organization
    tz = zoneinfo.ZoneInfo(organization.timezone)
    today = timezone.localtime(now, tz).date()
    status = order.status
    stop = _current_stop(order) if status not in (S.CREATED, S.CANCELLED) else None
    en_route = stop if stop is not None and status in EN_ROUTE_STATUSES else None
    stops_before = _stops_before(en_route) if en_route else None
    state = _vehicle_position(en_route, now) if en_route else None
    reached = _reached_at(order, tz=tz, today=today)
    proof = _proof(order, tz=tz, today=today) if status == S.DELIVERED else None
    vehicle, destination = _map_points(order, state, status=status, stops_before=stops_before)
    eta_text = _eta_text(stop, status=status, tz=tz, today=today)
    window = ""
    if order.window_start and order.window_end:
        window = span_text(order.window_start, order.window_end, tz=tz, today=today)
    driver = en_route.route.driver if en_route else None
    headline, message = STATUS_TEXT[status]
    return OrderTracking(
        code=order.tracking_code,
        reference=order.reference,
        organization_name=organization.name,
        status=status,
        headline=headline,
        message=message,
        steps=steps_build(status, reached),
        window=window,
        eta_window=eta_text,
        late=bool(eta_text and stop is not None and stop.late_risk),
        driver_first_name=first_name(driver.name) if driver else "",
        stops_before=stops_before,
        vehicle=vehicle,
        destination=destination,
        proof=proof,
        final=status in FINAL_STATUSES,
        updated=time_text(now, tz=tz, today=today),
    )
