"""The facts of a dispute packet, read once and frozen into one canonical JSON document.

The document is what the content hash covers: the PDF is drawn from it, so every fact on the
page is in the hash, and the same facts always give the same hash (sorted keys, fixed float
rounding, times as ISO 8601 in the organization's zone with their offset). Images are covered
by their own SHA-256 inside the document."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models.fields.files import FieldFile

from deliveries.models import DeliveryEvent, Order, OrderStatus, ProofOfDelivery, Stop
from fleet.geo import haversine_m
from tenancy.context import require_organization
from tenancy.models import Organization

from .. import selectors

FACTS_VERSION = 1
# The trail shown around the stop: this long before the arrival and after the departure.
TRAIL_MARGIN = dt.timedelta(minutes=15)
# Without a recorded departure, the trail runs this long after the arrival (or the outcome).
TRAIL_OPEN_END = dt.timedelta(minutes=30)
# Enough points to draw a faithful trail on half a page; a denser track is thinned evenly.
TRAIL_MAX_POINTS = 1500
OUTCOME_STATUSES = (OrderStatus.DELIVERED, OrderStatus.FAILED)


@dataclass(frozen=True)
class OrderFacts:
    reference: str
    customer_name: str
    address: str
    latitude: float | None
    longitude: float | None
    window_start: str | None
    window_end: str | None
    status: str
    hub: str


@dataclass(frozen=True)
class AttemptFacts:
    """One visit of the order: a stop on a route, with what happened there."""

    number: int
    route_id: int
    route_date: str
    vehicle_id: int | None
    vehicle: str
    driver: str
    sequence: int
    planned_arrival: str | None
    eta: str | None
    arrival: str | None
    departure: str | None
    dwell_seconds: int | None
    outcome: str
    failure_reason: str


@dataclass(frozen=True)
class EventFacts:
    at: str
    from_status: str
    to_status: str
    source: str
    actor: str
    failure_reason: str
    latitude: float | None
    longitude: float | None
    note: str


@dataclass(frozen=True)
class ProofFacts:
    recipient_name: str
    notes: str
    captured_at: str | None
    received_at: str
    captured_by: str
    latitude: float | None
    longitude: float | None
    accuracy_m: float | None
    distance_from_address_m: float | None
    photo_sha256: str | None
    signature_sha256: str | None


@dataclass(frozen=True)
class TrailFacts:
    """The vehicle's fixes around the stop: [epoch seconds, lat, lon, speed km/h or None]."""

    vehicle: str
    start: str | None
    end: str | None
    points: list[tuple[int, float, float, float | None]] = field(default_factory=list)


@dataclass(frozen=True)
class PacketFacts:
    version: int
    organization: str
    timezone: str
    order: OrderFacts
    attempts: list[AttemptFacts]
    events: list[EventFacts]
    proofs: list[ProofFacts]
    trail: TrailFacts

    def document(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PacketImages:
    """Photo and signature bytes by their SHA-256 (the renderer embeds them; the hash is in the
    facts, so swapping an image changes the content hash)."""

    by_sha256: dict[str, bytes] = field(default_factory=dict)


def canonical_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def content_sha256(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def _local(moment: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).isoformat(timespec="seconds")


def _coordinate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _read_file(file: FieldFile) -> bytes | None:
    if not file or not file.name:
        return None
    try:
        with file.storage.open(file.name, "rb") as handle:
            data: bytes = handle.read()
            return data
    except OSError:  # missing from storage: the packet says so rather than failing
        return None


def _order_facts(order: Order, zone: zoneinfo.ZoneInfo) -> OrderFacts:
    return OrderFacts(
        reference=order.reference,
        customer_name=order.customer_name,
        address=order.address,
        latitude=_coordinate(order.latitude),
        longitude=_coordinate(order.longitude),
        window_start=_local(order.window_start, zone),
        window_end=_local(order.window_end, zone),
        status=order.get_status_display(),
        hub=order.hub.name,
    )


def _event_facts(event: DeliveryEvent, zone: zoneinfo.ZoneInfo) -> EventFacts:
    return EventFacts(
        at=_local(event.at, zone) or "",
        from_status=event.get_from_status_display() if event.from_status else "",
        to_status=event.get_to_status_display(),
        source=event.get_source_display(),
        actor=event.actor.get_username() if event.actor else "",
        failure_reason=event.failure_reason.label if event.failure_reason else "",
        latitude=_coordinate(event.latitude),
        longitude=_coordinate(event.longitude),
        note=event.note,
    )


def _outcome(stop: Stop, events: list[DeliveryEvent], later: Stop | None) -> DeliveryEvent | None:
    """The delivered/failed event of this visit: the first after its arrival (or its route's
    day) and before the next visit's arrival."""
    start = stop.actual_arrival
    end = later.actual_arrival if later else None
    for event in events:
        if event.to_status not in OUTCOME_STATUSES:
            continue
        if start is not None and event.at < start:
            continue
        if start is None and event.at.date() < stop.route.date - dt.timedelta(days=1):
            continue
        if end is not None and event.at >= end:
            continue
        return event
    return None


def _attempt_facts(
    stops: list[Stop], events: list[DeliveryEvent], zone: zoneinfo.ZoneInfo
) -> tuple[list[AttemptFacts], list[DeliveryEvent | None]]:
    attempts, outcomes = [], []
    for number, stop in enumerate(stops, start=1):
        later = stops[number] if number < len(stops) else None
        outcome = _outcome(stop, events, later)
        route = stop.route
        dwell = (
            round((stop.actual_departure - stop.actual_arrival).total_seconds())
            if stop.actual_arrival and stop.actual_departure
            else None
        )
        attempts.append(
            AttemptFacts(
                number=number,
                route_id=route.pk,
                route_date=route.date.isoformat(),
                vehicle_id=route.vehicle_id,
                vehicle=route.vehicle.plate if route.vehicle else "",
                driver=route.driver.name if route.driver else "",
                sequence=stop.sequence,
                planned_arrival=_local(stop.planned_arrival, zone),
                eta=_local(stop.eta, zone),
                arrival=_local(stop.actual_arrival, zone),
                departure=_local(stop.actual_departure, zone),
                dwell_seconds=dwell,
                outcome=outcome.get_to_status_display() if outcome else "No outcome recorded",
                failure_reason=outcome.failure_reason.label
                if outcome and outcome.failure_reason
                else "",
            )
        )
        outcomes.append(outcome)
    return attempts, outcomes


def _proof_facts(
    order: Order, proofs: list[ProofOfDelivery], zone: zoneinfo.ZoneInfo, images: PacketImages
) -> list[ProofFacts]:
    found = []
    for proof in proofs:
        hashes = []
        for file in (proof.photo, proof.signature):
            data = _read_file(file)
            digest = hashlib.sha256(data).hexdigest() if data is not None else None
            if data is not None and digest is not None:
                images.by_sha256[digest] = data
            hashes.append(digest)
        distance = _distance_m(order, proof)
        found.append(
            ProofFacts(
                recipient_name=proof.recipient_name,
                notes=proof.notes,
                captured_at=_local(proof.captured_at, zone),
                received_at=_local(proof.received_at, zone) or "",
                captured_by=proof.captured_by.get_username() if proof.captured_by else "",
                latitude=_coordinate(proof.latitude),
                longitude=_coordinate(proof.longitude),
                accuracy_m=None if proof.accuracy_m is None else round(proof.accuracy_m, 1),
                distance_from_address_m=distance,
                photo_sha256=hashes[0],
                signature_sha256=hashes[1],
            )
        )
    return found


def _distance_m(order: Order, proof: ProofOfDelivery) -> float | None:
    """How far from the address the proof was captured (None without both positions)."""
    if order.latitude is None or order.longitude is None:
        return None
    if proof.latitude is None or proof.longitude is None:
        return None
    return round(haversine_m(order.latitude, order.longitude, proof.latitude, proof.longitude), 1)


def _trail_window(
    stop: Stop, outcome: DeliveryEvent | None
) -> tuple[dt.datetime, dt.datetime] | None:
    anchor = stop.actual_arrival or (outcome.at if outcome else None)
    if anchor is None:
        return None
    end = stop.actual_departure or (outcome.at if outcome and outcome.at > anchor else anchor)
    if stop.actual_departure is None:
        end = max(end, anchor + TRAIL_OPEN_END)
    return anchor - TRAIL_MARGIN, end + TRAIL_MARGIN


def _thin(count: int) -> list[int]:
    if count <= TRAIL_MAX_POINTS:
        return list(range(count))
    step = (count - 1) / (TRAIL_MAX_POINTS - 1)
    return sorted({round(index * step) for index in range(TRAIL_MAX_POINTS)})


def _trail_point(
    track: selectors.TrackColumns, index: int
) -> tuple[int, float, float, float | None]:
    speed = track.speed_kmh[index]
    return (
        round(track.timestamp[index]),
        round(track.latitude[index], 6),
        round(track.longitude[index], 6),
        None if speed is None else round(speed, 1),
    )


def _trail_facts(
    organization_id: int,
    attempts: list[AttemptFacts],
    stops: list[Stop],
    outcomes: list[DeliveryEvent | None],
    zone: zoneinfo.ZoneInfo,
) -> TrailFacts:
    """The trail of the last visit that has a time and a vehicle."""
    for attempt, stop, outcome in reversed(list(zip(attempts, stops, outcomes, strict=True))):
        window = _trail_window(stop, outcome)
        if window is None or attempt.vehicle_id is None:
            continue
        track = selectors.vehicle_track(
            organization_id=organization_id,
            vehicle_id=attempt.vehicle_id,
            start=window[0],
            end=window[1],
        )
        points = [_trail_point(track, i) for i in _thin(len(track))]
        return TrailFacts(attempt.vehicle, _local(window[0], zone), _local(window[1], zone), points)
    return TrailFacts("", None, None, [])


def packet_facts_collect(*, organization_id: int, order: Order) -> tuple[PacketFacts, PacketImages]:
    """Everything the packet states about `order` (already access-checked by the caller)."""
    require_organization(organization_id)
    organization = Organization.objects.get(pk=organization_id)
    zone = zoneinfo.ZoneInfo(organization.timezone)
    stops = list(
        Stop.objects.filter(organization_id=organization_id, order_id=order.pk)
        .select_related("route__vehicle", "route__driver")
        .order_by("route__date", "actual_arrival", "route_id", "pk")
    )
    events = list(
        DeliveryEvent.objects.filter(organization_id=organization_id, order_id=order.pk)
        .select_related("actor", "failure_reason")
        .order_by("at", "pk")
    )
    proofs = list(
        ProofOfDelivery.objects.filter(organization_id=organization_id, order_id=order.pk)
        .select_related("captured_by")
        .order_by("received_at", "pk")
    )
    images = PacketImages()
    attempts, outcomes = _attempt_facts(stops, events, zone)
    facts = PacketFacts(
        version=FACTS_VERSION,
        organization=organization.name,
        timezone=organization.timezone,
        order=_order_facts(order, zone),
        attempts=attempts,
        events=[_event_facts(event, zone) for event in events],
        proofs=_proof_facts(order, proofs, zone, images),
        trail=_trail_facts(organization_id, attempts, stops, outcomes, zone),
    )
    return facts, images
