"""Weeks of demo history in seconds, not by waiting: for each past local day of each demo
organization, every vehicle with a driver and a tracker drove a shift (demo/history_track.py)
and this module writes what that shift leaves behind, the way the system would have stored it:

- positions by COPY into fleet_position, after `partitions_ensure` made the days' partitions;
- a completed route per vehicle, one order and stop per visit (planned against actual times,
  windows, ETAs), each order's timeline (created, assigned, out for delivery, arrived,
  delivered or failed with a reason, returned to the hub) and a proof of delivery (photo,
  signature, recipient, geo-stamp a few metres from the door) for every delivery;
- the ETAs announced 60, 30 and 10 minutes before each arrival (`order.eta_changed` outbox
  events, stored as already relayed);
- a resolved speeding alert (with its opened / acknowledged / resolved timeline) for every
  leg driven too fast, on the organization's "Speeding" rule;
- then the daily rollups of those days (reporting's recompute entry point).

Rows are bulk-inserted, not through the services: no webhook or notification fires for the past.
A day that already has history (its routes' orders carry the `-H` reference) or a vehicle that
already reported on that day (the live simulator) is left alone, so the seed is idempotent and
`make run` can call it every time. Deterministic: seeded by organization, vehicle and day."""

from __future__ import annotations

import datetime as dt
import io
import random
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from PIL import Image, ImageDraw

from alerts.kinds.titles import alert_title
from alerts.models import Alert, AlertEvent, AlertRule, SubjectType
from deliveries.models import (
    DeliveryEvent,
    FailureReason,
    Order,
    OrderStatus,
    ProofOfDelivery,
    Route,
    Stop,
)
from fleet.models import Hub, Position, Vehicle
from fleet.partitions import partitions_ensure
from reporting.rollups import rollups_recompute_days
from tenancy.context import tenant_context
from tenancy.copy import copy_dicts, copy_insert, copy_objects, ids_assign, ids_reserve_for
from tenancy.models import Membership, Organization, Role
from tenancy.outbox.models import OutboxEvent

from .history_track import Shift, Visit, shift_build
from .orders import FIRST_NAMES, LAST_NAMES, STREETS
from .simulator.roads import RoadNetwork, build_network, offset

Row = dict[str, Any]  # one row to COPY: model attribute names (`order_id`) to values
SHIFT_START = dt.time(7, 30)
STOPS_PER_SHIFT = (18, 28)
FAILURE_CHANCE = 0.1
LATE_WINDOW_CHANCE = 0.08  # the window was promised too early: the visit lands late
SPEEDING_LIMIT_KMH = 65  # the demo's default "Speeding" rule
# Minutes before the arrival an ETA was announced, and how far off it was (sd, minutes).
ETA_ANNOUNCEMENTS = ((60, 7.0), (30, 4.0), (10, 1.5))
POSITION_COLUMNS = (
    "device_id", "organization_id", "vehicle_id", "fix_time", "server_time", "latitude",
    "longitude", "speed_kmh", "heading", "ignition", "attributes",
)  # fmt: skip


@dataclass
class HistoryCounts:
    days: int = 0
    routes: int = 0
    orders: int = 0
    events: int = 0
    proofs: int = 0
    alerts: int = 0
    positions: int = 0
    rollups: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, other: HistoryCounts) -> None:
        for name in ("days", "routes", "orders", "events", "proofs", "alerts", "positions"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for phase, seconds in other.seconds.items():
            self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds


@dataclass(frozen=True)
class Fleet:
    """What a day of one organization needs, read once."""

    organization: Organization
    zone: zoneinfo.ZoneInfo
    vehicles: list[Vehicle]
    networks: dict[int, RoadNetwork]
    reasons: list[FailureReason]
    speeding_rule: AlertRule | None
    driver_user_id: int | None
    dispatcher_user_id: int | None
    photo: str
    signature: str


def history_days(today: dt.date, days: int) -> list[dt.date]:
    """The `days` local days before `today`, oldest first."""
    return [today - dt.timedelta(days=back) for back in range(days, 0, -1)]


def demo_history_seed(
    organization: Organization, *, days: int, today: dt.date | None = None
) -> HistoryCounts:
    """Seed `days` past local days of history for the organization; returns what was written."""
    zone = zoneinfo.ZoneInfo(organization.timezone)
    today = today or dt.datetime.now(zone).date()
    counts = HistoryCounts()
    wanted = history_days(today, days)
    if not wanted:
        return counts
    started = time.perf_counter()
    utc_days = (today - wanted[0]).days + 2  # local days straddle two UTC days
    partitions_ensure(today=today, days_back=utc_days, days_ahead=1)
    with tenant_context(organization.pk):
        fleet = _fleet_load(organization, zone)
        seeded = []
        for day in wanted:
            with transaction.atomic():
                written = _day_seed(fleet, day)
            if written.days:
                seeded.append(day)
            counts.add(written)
        # One pass over every seeded day (the positions read once per week), not a recompute
        # per day and vehicle.
        started = time.perf_counter()
        counts.rollups += rollups_recompute_days(organization_id=organization.pk, days=seeded)
        counts.seconds["rollups"] = time.perf_counter() - started
    return counts


def _fleet_load(organization: Organization, zone: zoneinfo.ZoneInfo) -> Fleet:
    hubs = list(Hub.objects.filter(organization=organization).order_by("code"))
    networks = {
        hub.pk: build_network(
            hub.latitude, hub.longitude, [(h.latitude, h.longitude) for h in hubs if h != hub]
        )
        for hub in hubs
    }
    vehicles = list(
        Vehicle.objects.filter(organization=organization, active=True, driver__isnull=False)
        .exclude(device=None)
        .select_related("device", "driver", "hub")
        .order_by("plate")
    )
    memberships = dict(
        Membership.objects.filter(organization=organization, hubs=None)
        .order_by("pk")
        .values_list("role", "user_id")
        .reverse()  # the first membership of each role wins in the dict
    )
    return Fleet(
        organization=organization,
        zone=zone,
        vehicles=vehicles,
        networks=networks,
        reasons=list(FailureReason.objects.filter(organization=organization).order_by("code")),
        speeding_rule=AlertRule.objects.filter(organization=organization, kind="speeding")
        .order_by("pk")
        .first(),
        driver_user_id=memberships.get(Role.DRIVER),
        dispatcher_user_id=memberships.get(Role.DISPATCHER),
        photo=_demo_image(organization, "photo", (320, 240)),
        signature=_demo_image(organization, "signature", (300, 100)),
    )


def _demo_image(organization: Organization, kind: str, size: tuple[int, int]) -> str:
    """One stored demo photo / signature per organization that every seeded proof points to
    (the files are served through the access-checked POD URLs like any other)."""
    name = f"pod/{organization.pk}/demo-history-{kind}.png"
    if default_storage.exists(name):
        return name
    image = Image.new("RGB", size, (236, 240, 244) if kind == "signature" else (86, 120, 96))
    draw = ImageDraw.Draw(image)
    if kind == "signature":
        draw.line(
            [(20, 70), (70, 30), (110, 75), (160, 25), (210, 70), (280, 40)],
            fill=(20, 30, 80),
            width=4,
        )
    else:
        draw.rectangle([(90, 70), (230, 200)], fill=(176, 132, 84), outline=(90, 60, 30), width=4)
        draw.rectangle([(0, 200), (320, 240)], fill=(120, 120, 120))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return default_storage.save(name, ContentFile(buffer.getvalue()))


def _history_prefix(organization: Organization, day: dt.date) -> str:
    return f"{organization.slug[:2].upper()}-H{day:%y%m%d}-"


def _day_seed(fleet: Fleet, day: dt.date) -> HistoryCounts:
    counts = HistoryCounts()
    organization = fleet.organization
    prefix = _history_prefix(organization, day)
    if Order.objects.filter(organization=organization, reference__startswith=prefix).exists():
        return counts
    start = dt.datetime.combine(day, dt.time.min, tzinfo=fleet.zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=fleet.zone)
    reported = _devices_that_reported(organization.pk, start, end)
    clock = time.perf_counter()
    day_rows = DayRows()
    for vehicle in fleet.vehicles:
        if vehicle.device.pk in reported:
            continue
        rng = random.Random(f"history-{organization.slug}-{vehicle.plate}-{day}")
        shift_start = dt.datetime.combine(day, SHIFT_START, tzinfo=fleet.zone).timestamp()
        shift = shift_build(
            fleet.networks[vehicle.hub_id],
            rng,
            start=shift_start + rng.uniform(0, 1800),
            stops=rng.randint(*STOPS_PER_SHIFT),
        )
        day_rows.shifts.append((vehicle, shift, rng))
    if not day_rows.shifts:
        return counts
    counts.seconds["tracks"] = time.perf_counter() - clock
    _write_day(fleet, day, prefix, day_rows, counts)
    counts.days = 1
    return counts


@dataclass
class DayRows:
    shifts: list[tuple[Vehicle, Shift, random.Random]] = field(default_factory=list)


def _devices_that_reported(organization_id: int, start: dt.datetime, end: dt.datetime) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT device_id FROM fleet_position "
            "WHERE organization_id = %s AND fix_time >= %s AND fix_time < %s",
            [organization_id, start, end],
        )
        return {row[0] for row in cursor.fetchall()}


def _moment(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(round(epoch), dt.UTC)


def _write_day(
    fleet: Fleet, day: dt.date, prefix: str, rows: DayRows, counts: HistoryCounts
) -> None:
    """Every row of the day built first (ids reserved from the tables' sequences, so children
    point at their parents; plain dicts for the tens of thousands of orders, stops and events:
    a model instance costs twenty times a dict to build), then written by COPY, table by table."""
    organization = fleet.organization
    clock = time.perf_counter()
    routes = [
        Route(
            organization=organization, hub_id=vehicle.hub_id, date=day, vehicle=vehicle,
            driver_id=vehicle.driver_id, status=Route.Status.COMPLETED, plan_version=1,
            dispatched_at=_moment(shift.fixes[0][0] - 1800),
            created_at=_moment(shift.fixes[0][0] - 14 * 3600),
        )
        for vehicle, shift, _ in rows.shifts
    ]  # fmt: skip
    ids_assign(routes)
    orders: list[Row] = []
    plans: list[tuple[Route, Visit, random.Random, int]] = []
    for route, (vehicle, shift, rng) in zip(routes, rows.shifts, strict=True):
        for number, visit in enumerate(shift.visits, start=1):
            orders.append(
                _order(fleet, vehicle, visit, rng, f"{prefix}{vehicle.pk:04d}-{number:02d}")
            )
            plans.append((route, visit, rng, number))
    for order, order_id in zip(orders, ids_reserve_for(Order, len(orders)), strict=True):
        order["id"] = order_id
    stops = [_stop(fleet, order, route, visit, rng, number)
             for order, (route, visit, rng, number) in zip(orders, plans, strict=True)]  # fmt: skip
    etas = _eta_history(fleet, orders, stops)
    events, proofs = _timelines(fleet, day, orders, plans)  # also settles each order's status
    clock = _lap(counts, "build rows", clock)
    copy_objects(routes)
    for model, table in ((Order, orders), (Stop, stops), (OutboxEvent, etas),
                         (DeliveryEvent, events), (ProofOfDelivery, proofs)):  # fmt: skip
        copy_dicts(model, table)
    clock = _lap(counts, "routes, orders, stops, events, proofs", clock)
    alerts = _speeding_alerts(fleet, routes, rows)
    counts.routes += len(routes)
    counts.orders += len(orders)
    counts.events += len(events)
    counts.proofs += len(proofs)
    counts.alerts += alerts
    clock = _lap(counts, "alerts", clock)
    counts.positions += _positions_copy(organization.pk, rows)
    _lap(counts, "positions", clock)


def _lap(counts: HistoryCounts, phase: str, since: float) -> float:
    now = time.perf_counter()
    counts.seconds[phase] = counts.seconds.get(phase, 0.0) + now - since
    return now


def _order(fleet: Fleet, vehicle: Vehicle, visit: Visit, rng: random.Random, reference: str) -> Row:
    planned = visit.arrived + rng.uniform(-900, 900)
    local = dt.datetime.fromtimestamp(planned, fleet.zone)
    window_start = local.replace(minute=0, second=0, microsecond=0) - dt.timedelta(
        hours=rng.choice((0, 1))
    )
    if rng.random() < LATE_WINDOW_CHANCE:
        window_start -= dt.timedelta(hours=2)
    hub = vehicle.hub
    return dict(
        organization_id=fleet.organization.pk, hub_id=hub.pk, reference=reference,
        customer_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        phone=f"+{rng.randint(30, 39)} 6{rng.randint(1000000, 9999999)}",
        address=f"{rng.randint(1, 240)} {rng.choice(STREETS)}, {hub.region or hub.name}",
        latitude=round(visit.latitude, 6), longitude=round(visit.longitude, 6),
        window_start=window_start, window_end=window_start + dt.timedelta(hours=2),
        service_minutes=max(1, round((visit.departed - visit.arrived) / 60)),
        weight_kg=round(rng.uniform(0.2, 25), 1), volume_l=round(rng.uniform(1, 80), 1),
        status=OrderStatus.DELIVERED, created_at=_evening_before(fleet, visit.arrived),
        updated_at=_moment(visit.departed),
    )  # fmt: skip


def _evening_before(fleet: Fleet, epoch: float) -> dt.datetime:
    """20:00 local the day before: when the day's orders came in (their `created` event)."""
    day = dt.datetime.fromtimestamp(epoch, fleet.zone).date()
    return dt.datetime.combine(day - dt.timedelta(days=1), dt.time(20), tzinfo=fleet.zone)


def _stop(fleet: Fleet, order: Row, route: Route, visit: Visit, rng: random.Random,
          number: int) -> Row:  # fmt: skip
    planned = visit.arrived + rng.uniform(-600, 600)
    return dict(
        organization_id=fleet.organization.pk, route_id=route.pk, sequence=number,
        order_id=order["id"],
        planned_arrival=_moment(planned), eta=_moment(visit.arrived + rng.uniform(-240, 240)),
        eta_updated_at=_moment(visit.arrived - 600),
        actual_arrival=_moment(visit.arrived), actual_departure=_moment(visit.departed),
    )  # fmt: skip


def _eta_history(fleet: Fleet, orders: list[Row], stops: list[Row]) -> list[Row]:
    """The ETAs the system announced 60, 30 and 10 minutes before each arrival (closer is
    better), as the `order.eta_changed` events the KPIs' ETA accuracy reads. Stored as
    already relayed: nothing (webhooks, notifications) is sent for the past."""
    found = []
    for order, stop in zip(orders, stops, strict=True):
        arrival = stop["actual_arrival"]
        rng = random.Random(f"eta-{order['reference']}")
        for minutes, spread in ETA_ANNOUNCEMENTS:
            eta = arrival + dt.timedelta(seconds=round(rng.gauss(0, spread * 60)))
            announced = arrival - dt.timedelta(minutes=minutes)
            found.append(dict(
                organization_id=fleet.organization.pk, kind="order.eta_changed",
                aggregate="order", aggregate_id=order["id"], occurred_at=announced,
                relayed_at=announced, next_attempt_at=announced,
                payload={"order": {"id": order["id"], "reference": order["reference"],
                                   "eta": eta.isoformat()}},
            ))  # fmt: skip
    return found


def _timelines(
    fleet: Fleet,
    day: dt.date,
    orders: list[Row],
    plans: list[tuple[Route, Visit, random.Random, int]],
) -> tuple[list[Row], list[Row]]:
    """Each order's events and, when delivered, its proof; failed orders go back to the hub."""
    events: list[Row] = []
    proofs: list[Row] = []
    organization_id = fleet.organization.pk
    evening = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(20), tzinfo=fleet.zone)
    morning = dt.datetime.combine(day, dt.time(6, 30), tzinfo=fleet.zone)
    S, driver = OrderStatus, fleet.driver_user_id
    failed_ids = []
    for order, (route, visit, rng, _) in zip(orders, plans, strict=True):
        done = _moment(visit.arrived + (visit.departed - visit.arrived) * 0.8)
        failed = rng.random() < FAILURE_CHANCE and bool(fleet.reasons)
        steps: list[tuple[str, str, dt.datetime, dict[str, Any]]] = [
            ("", S.CREATED, evening, {"source": DeliveryEvent.Source.API}),
            (S.CREATED, S.ASSIGNED, morning, {"source": DeliveryEvent.Source.SYSTEM}),
            (S.ASSIGNED, S.OUT_FOR_DELIVERY, route.dispatched_at or morning,
             {"source": DeliveryEvent.Source.SYSTEM}),
            (S.OUT_FOR_DELIVERY, S.ARRIVED, _moment(visit.arrived),
             {"source": DeliveryEvent.Source.DRIVER, "actor_id": driver}),
        ]  # fmt: skip
        stamp = offset(visit.latitude, visit.longitude, rng.uniform(0, 360), rng.uniform(2, 25))
        where = {"latitude": round(stamp[0], 6), "longitude": round(stamp[1], 6)}
        if failed:
            reason = rng.choice(fleet.reasons)
            steps.append((S.ARRIVED, S.FAILED, done, {"source": DeliveryEvent.Source.DRIVER,
                          "actor_id": driver, "failure_reason_id": reason.pk, **where}))  # fmt: skip
            failed_ids.append((order, route))
        else:
            steps.append((S.ARRIVED, S.DELIVERED, done,
                          {"source": DeliveryEvent.Source.DRIVER, "actor_id": driver, **where}))  # fmt: skip
            proofs.append(dict(
                organization_id=organization_id, order_id=order["id"], photo=fleet.photo,
                signature=fleet.signature, recipient_name=order["customer_name"] if rng.random() < 0.7
                else f"{rng.choice(FIRST_NAMES)} (neighbour)", accuracy_m=round(rng.uniform(4, 15), 1),
                captured_at=done, received_at=done + dt.timedelta(seconds=rng.randint(1, 40)),
                captured_by_id=driver, **where,
            ))  # fmt: skip
        for from_status, to_status, at, extra in steps:
            events.append(dict(organization_id=organization_id, order_id=order["id"],
                               from_status=from_status, to_status=to_status, at=at, **extra))  # fmt: skip
    route_ends = _route_ends(plans)
    for order, route in failed_ids:
        back_at = _moment(route_ends[route.pk])
        order["status"], order["updated_at"] = S.RETURNED_TO_HUB, back_at
        events.append(dict(
            organization_id=organization_id, order_id=order["id"], from_status=S.FAILED,
            to_status=S.RETURNED_TO_HUB, at=back_at,
            source=DeliveryEvent.Source.DRIVER, actor_id=driver,
        ))  # fmt: skip
    return events, proofs


def _route_ends(plans: list[tuple[Route, Visit, random.Random, int]]) -> dict[int, float]:
    """Per route: half an hour after its last departure, when the van is back at the hub."""
    ends: dict[int, float] = {}
    for route, visit, _, _ in plans:
        ends[route.pk] = max(ends.get(route.pk, 0.0), visit.departed + 1800)
    return ends


def _speeding_alerts(fleet: Fleet, routes: list[Route], rows: DayRows) -> int:
    rule = fleet.speeding_rule
    if rule is None:
        return 0
    alerts, timelines = [], []
    for route, (vehicle, shift, rng) in zip(routes, rows.shifts, strict=True):
        for episode in shift.speeding:
            peak = round(episode.peak_kmh + 2)
            details = {"peak_kmh": peak, "limit_kmh": SPEEDING_LIMIT_KMH,
                       "duration_s": round(episode.end - episode.start)}  # fmt: skip
            opened = _moment(episode.start + 15)
            acknowledged = opened + dt.timedelta(minutes=rng.randint(1, 25))
            resolved = max(_moment(episode.end + 30), acknowledged + dt.timedelta(minutes=1))
            alerts.append(Alert(
                organization=fleet.organization, rule=rule, kind="speeding", severity=rule.severity,
                status=Alert.Status.RESOLVED, subject_type=SubjectType.VEHICLE,
                subject_id=vehicle.pk, subject_label=vehicle.plate, vehicle_id=vehicle.pk,
                hub_id=vehicle.hub_id, route_id=route.pk, latitude=round(episode.latitude, 6),
                longitude=round(episode.longitude, 6),
                title=alert_title("speeding", vehicle.plate, details), details=details,
                condition_started_at=_moment(episode.start), opened_at=opened,
                last_evaluated_at=resolved, acknowledged_at=acknowledged,
                acknowledged_by_id=fleet.dispatcher_user_id, resolved_at=resolved,
                resolution=Alert.Resolution.CLEARED,
            ))  # fmt: skip
            timelines.append((opened, acknowledged, resolved))
    ids_assign(alerts)
    copy_objects(alerts)
    copy_objects([
        AlertEvent(organization=fleet.organization, alert=alert, at=at, kind=kind,
                   actor_id=fleet.dispatcher_user_id if kind == AlertEvent.Kind.ACKNOWLEDGED else None)
        for alert, moments in zip(alerts, timelines, strict=True)
        for kind, at in zip((AlertEvent.Kind.OPENED, AlertEvent.Kind.ACKNOWLEDGED,
                             AlertEvent.Kind.RESOLVED), moments, strict=True)
    ])  # fmt: skip
    return len(alerts)


def _position_rows(organization_id: int, rows: DayRows) -> Iterator[tuple[Any, ...]]:
    for vehicle, shift, _ in rows.shifts:
        device_id = vehicle.device.pk
        for epoch, lat, lon, speed, heading, ignition in shift.fixes:
            moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
            yield (device_id, organization_id, vehicle.pk, moment, moment, round(lat, 6),
                   round(lon, 6), speed, heading, ignition, EMPTY_ATTRIBUTES)  # fmt: skip


EMPTY_ATTRIBUTES = "{}"  # COPY's text format: the JSON as text


def _positions_copy(organization_id: int, rows: DayRows) -> int:
    """The day's fixes by COPY into a session table, then one INSERT into fleet_position
    (tenancy.copy.copy_insert): COPY cannot write a table under row-level security, and the
    INSERT keeps the day in this transaction, checked by the policies like every other
    tenant write."""
    with connection.cursor() as cursor:
        return copy_insert(
            cursor.cursor,
            Position._meta.db_table,
            POSITION_COLUMNS,
            _position_rows(organization_id, rows),
        )
