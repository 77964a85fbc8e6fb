"""The demo scenario: every kind of anomaly the alerts inbox is about, within the first minutes
of `make run` and then again every 20 minutes (`manage.py simulate_fleet --scenario`).

The telematics side is nine scripted vehicles of Northwind (demo/simulator/scripted.py: a
tracker going silent and coming back, speeding, a GPS scattering, a van standing still, a van
leaving its service area and returning); their fixes go through the OsmAnd endpoint with the
rest of the fleet. The delivery side is here, through the deliveries services like any driver
app or integration, on three more of them, each cycle:

* ``late``: a route whose only stop is 2.5-3.5 km from the hub with a window closing in 150 s:
  "Late risk" opens on the first ETA, "Late delivery" when the window passes; both resolve when
  the van gets there and delivers;
* ``not_started``: a planned route whose first stop was planned 20 minutes ago:
  "Route not started" opens, and resolves when the driver starts it 100 s later;
* ``failed_far``: a route with two stops. 20 s in, still at the hub, the driver marks the
  first (1.1-1.5 km out) arrived and delivered: "Delivered far from the address" (and "Arrived
  but never near"); at the second, 400 m out on the way, the delivery fails (not at home:
  "Failed delivery", resolved when the parcel is returned to the hub 2 minutes later).

The stops lie on the road network where the fastest path from the hub (or the stop before)
stays close to the straight line, so the routes' corridors ("Off the planned route") hold.

A van and a driver have one route a day (deliveries' rule), so the first cycle of the day uses
the vans; later cycles use *vanless* routes (started without a van, stops reached on the
timeline, the phone's geo-stamp at the stop): the same alerts, without a van on the map.
"Route not started" is always vanless (a planned route nobody has taken out yet).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import random
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from shapely.geometry import Point, shape

from deliveries.models import DeliveryEvent, Order, OrderStatus, Route, Stop
from deliveries.services.orders import order_create, order_transition
from deliveries.services.routes import (
    route_create,
    route_dispatch,
    route_start,
    stop_add,
    stop_arrive,
    stop_depart,
    stop_remove,
)
from fleet.geo import haversine_m
from fleet.models import Device, Hub, Zone
from tenancy.context import operator_context, tenant_context
from tenancy.errors import DomainError

from .simulator.driver import SimDevice
from .simulator.roads import RoadNetwork, build_network
from .simulator.scripted import SCENARIO_DEVICES, ScriptedVehicle, Timeline

logger = logging.getLogger(__name__)

S = OrderStatus
SOURCE = DeliveryEvent.Source.DRIVER
NEAR_M = 60.0  # the van is "at" a stop within this (the demo robot's radius is 80 m)
SERVICE_S = 45.0
LATE_WINDOW_S = 150.0
LATE_STOP_M = (2500.0, 3500.0)  # from the hub: the van needs minutes more than the window has
NOT_STARTED_PLANNED_AGO = dt.timedelta(minutes=20)
NOT_STARTED_ARRIVE_AT = 100.0
FAILED_RETURNED_AFTER_S = 120.0
# On a vanless route (the van had its route of the day already), when the stop is reached.
LATE_VANLESS_ARRIVAL = 330.0
FAILED_VANLESS_ARRIVAL = 150.0
FAR_MARKED_AT = 20.0
FAIL_STOP_M = 400.0
STEP_S = 1.0


# -- where the stops go (pure) ---------------------------------------------------------------


def _off_line_m(network: RoadNetwork, a: int, b: int, path: list[int]) -> float:
    """The farthest the path's junctions lie from the straight segment a-b, in metres."""
    lat0, lon0 = network.nodes[a]
    k = math.cos(math.radians(lat0))

    def xy(node: int) -> tuple[float, float]:
        lat, lon = network.nodes[node]
        return (lon - lon0) * k * 111_320.0, (lat - lat0) * 111_320.0

    bx, by = xy(b)
    length2 = bx * bx + by * by or 1.0
    worst = 0.0
    for node in path:
        x, y = xy(node)
        t = max(0.0, min(1.0, (x * bx + y * by) / length2))
        worst = max(worst, math.hypot(x - t * bx, y - t * by))
    return worst


def corridor_node(
    network: RoadNetwork, origin: int, metres: tuple[float, float], rng: random.Random
) -> int:
    """A junction `metres` (a range) from `origin` whose fastest path from it stays the
    closest to the straight line (what the route-deviation rule measures against)."""
    here = network.nodes[origin]
    candidates = [
        n
        for n in network.node_ids
        if metres[0] <= haversine_m(*here, *network.nodes[n]) <= metres[1]
    ]
    sample = rng.sample(candidates, min(25, len(candidates))) or [origin]
    return min(
        sample, key=lambda n: _off_line_m(network, origin, n, network.shortest_path(origin, n))
    )


# -- the scenario ------------------------------------------------------------------------------


@dataclass
class Episode:
    """One role's acts in one cycle: its route, stops and when things happened."""

    cycle: int
    route_id: int
    stops: list[int]
    orders: list[tuple[float, float]]
    marks: dict[str, float] = field(default_factory=dict)
    done: bool = False
    with_van: bool = True


@dataclass
class ScenarioVehicles:
    vehicles: dict[str, ScriptedVehicle]
    organization_id: int
    # role -> (vehicle id, driver id, hub id)
    ids: dict[str, tuple[int, int | None, int]]


def scenario_devices_load() -> dict[str, tuple[SimDevice, int, int, int | None, int]]:
    """role -> (its SimDevice, organization id, vehicle id, driver id, hub id) for the scenario
    devices present (an empty dict when the demo is not seeded)."""
    found = {}
    with operator_context():
        devices = Device.objects.filter(
            identifier__in=SCENARIO_DEVICES.values(), active=True, vehicle__active=True
        ).select_related("vehicle__hub")
        by_identifier = {d.identifier: d for d in devices}
        for role, identifier in SCENARIO_DEVICES.items():
            device = by_identifier.get(identifier)
            if device is None or device.vehicle is None:
                continue
            vehicle, hub = device.vehicle, device.vehicle.hub
            others = (
                Hub.objects.filter(organization_id=device.organization_id)
                .exclude(pk=hub.pk)
                .order_by("pk")
            )
            neighbours = tuple((h.latitude, h.longitude) for h in others)
            found[role] = (
                SimDevice(identifier, (hub.latitude, hub.longitude), neighbours),
                device.organization_id,
                vehicle.pk,
                vehicle.driver_id,
                hub.pk,
            )
    return found


def _service_area_test(organization_id: int, hub_id: int) -> Callable[[float, float], bool]:
    with tenant_context(organization_id):
        zones = [
            shape(zone.geometry)
            for zone in Zone.objects.filter(hub_id=hub_id, kind=Zone.Kind.SERVICE_AREA)
        ]
    return lambda lat, lon: any(zone.contains(Point(lon, lat)) for zone in zones)


def scenario_vehicles_build(
    start: float, *, interval: float = 5.0, seed: str | int | None = None
) -> ScenarioVehicles | None:
    """The scripted vehicles, on a timeline starting at `start` (None: no scenario devices)."""
    loaded = scenario_devices_load()
    if len(loaded) != len(SCENARIO_DEVICES):
        return None
    organization_id = next(iter(loaded.values()))[1]
    timeline = Timeline(start)
    vehicles, ids = {}, {}
    for role, (device, _, vehicle_id, driver_id, hub_id) in loaded.items():
        network = build_network(*device.hub, device.neighbours)
        vehicles[role] = ScriptedVehicle(
            device.identifier,
            network,
            role=role,
            timeline=timeline,
            rng=random.Random(f"scenario/{seed}/{device.identifier}"),
            interval=interval,
            inside_area=_service_area_test(organization_id, hub_id) if role == "zone" else None,
        )
        ids[role] = (vehicle_id, driver_id, hub_id)
    return ScenarioVehicles(vehicles, organization_id, ids)


class DemoScenario:
    """The delivery side of the scenario, one step a second (see the module docstring)."""

    def __init__(self, cast: ScenarioVehicles, *, log: Callable[[str], None] = logger.info):
        self.cast = cast
        self.organization_id = cast.organization_id
        self.timeline = cast.vehicles["late"].timeline
        self.log = log
        self.episodes: dict[str, Episode] = {}
        self.rng = random.Random()

    async def run(self) -> None:
        await asyncio.to_thread(self.leftovers_close)
        while True:
            try:
                await asyncio.to_thread(self.step)
            except Exception:  # a failed act must not stop the simulation; try again
                logger.exception("demo scenario step failed")
            await asyncio.sleep(STEP_S)

    # -- helpers ------------------------------------------------------------------------------

    def _vehicle(self, role: str) -> ScriptedVehicle:
        return self.cast.vehicles[role]

    def _distance(self, role: str, point: tuple[float, float]) -> float:
        return haversine_m(*self._vehicle(role).position, *point)

    def _today(self, now: dt.datetime) -> dt.date:
        from tenancy.models import Organization

        zone = Organization.objects.values_list("timezone", flat=True).get(pk=self.organization_id)
        return now.astimezone(zoneinfo.ZoneInfo(zone)).date()

    def _route(self, role: str, cycle: int, points: list[tuple[float, float]],
               windows: list[tuple[dt.datetime, dt.datetime]], now: dt.datetime, *,
               with_van: bool = True, start: bool = True) -> Episode:  # fmt: skip
        """A route of these stops; with the role's van and driver (dispatched) when asked and
        they have no route yet today (one route per van and day), else without (started when
        `start`: "a route nobody dispatched counts as dispatched now")."""
        vehicle_id, driver_id, hub_id = self.cast.ids[role]
        org, today = self.organization_id, self._today(now)
        with_van = (
            with_van
            and not Route.objects.filter(
                Q(vehicle_id=vehicle_id) | Q(driver_id=driver_id), date=today
            ).exists()
        )
        route = route_create(
            organization_id=org, hub_id=hub_id, date=today,
            vehicle_id=vehicle_id if with_van else None, driver_id=driver_id if with_van else None,
        )  # fmt: skip
        stops = []
        for index, ((lat, lon), (begin, end)) in enumerate(zip(points, windows, strict=True)):
            order = order_create(
                organization_id=org, hub_id=hub_id,
                reference=f"NW-SC-{now:%y%m%d-%H%M%S}-{role[:3].upper()}{index + 1}",
                customer_name=f"Scenario customer ({role.replace('_', ' ')})",
                address=f"{self.rng.randint(1, 240)} Scenario Street, Amsterdam",
                latitude=round(lat, 6), longitude=round(lon, 6), window_start=begin,
                window_end=end, service_minutes=2, source=DeliveryEvent.Source.API,
            )  # fmt: skip
            stops.append(stop_add(organization_id=org, route_id=route.pk, order_id=order.pk).pk)
        if with_van:
            route_dispatch(organization_id=org, route_id=route.pk, now=now)
        elif start:
            route_start(organization_id=org, route_id=route.pk, source=SOURCE, now=now)
        van = f"{self._vehicle(role).device_id}'s" if with_van else "a vanless"
        self.log(f"scenario: {role}: {van} route #{route.pk}, {len(stops)} stop(s), cycle {cycle}")
        rounded = [(round(a, 6), round(b, 6)) for a, b in points]
        return Episode(cycle, route.pk, stops, rounded, with_van=with_van)

    def _stamp(self, episode: Episode, index: int, role: str) -> tuple[float, float]:
        """Where the driver's phone is: with the van; on a vanless route, at the stop."""
        return self._vehicle(role).position if episode.with_van else episode.orders[index]

    def _arrive(self, episode: Episode, index: int, role: str, t: float,
                stamp: tuple[float, float] | None = None) -> None:  # fmt: skip
        lat, lon = stamp or self._stamp(episode, index, role)
        stop_arrive(organization_id=self.organization_id, stop_id=episode.stops[index],
                    source=SOURCE, latitude=lat, longitude=lon)  # fmt: skip
        episode.marks[f"arrived{index}"] = t

    def _depart(self, episode: Episode, index: int, role: str, t: float, status: str,
                stamp: tuple[float, float] | None = None) -> None:  # fmt: skip
        lat, lon = stamp or self._stamp(episode, index, role)
        stop_depart(
            organization_id=self.organization_id, stop_id=episode.stops[index], to_status=status,
            source=SOURCE, reason_code="not_home" if status == S.FAILED else None,
            latitude=lat, longitude=lon,
        )  # fmt: skip
        episode.marks[f"departed{index}"] = t

    def _due(self, role: str, cycle: int, p: float) -> bool:
        """A new episode of `role` for this cycle: early in it, the previous one finished."""
        episode = self.episodes.get(role)
        fresh = episode is None or (episode.done and episode.cycle != cycle)
        return fresh and 0 <= p < 300

    def _visit(self, episode: Episode, index: int, role: str, t: float, p: float, status: str,
               *, vanless_at: float) -> None:  # fmt: skip
        """Arrive when the van is there (on a vanless route: at phase `vanless_at` of the
        episode's cycle); done (delivered or failed) after the service time."""
        arrived = episode.marks.get(f"arrived{index}")
        if arrived is None:
            if episode.with_van:
                there = self._distance(role, episode.orders[index]) <= NEAR_M
            else:
                there = episode.cycle != self.timeline.phase(t)[0] or p >= vanless_at
            if there:
                self._arrive(episode, index, role, t)
        elif f"departed{index}" not in episode.marks and t - arrived >= SERVICE_S:
            self._depart(episode, index, role, t, status)

    # -- one step -----------------------------------------------------------------------------

    def step(self) -> None:
        t = self._vehicle("late").t
        cycle, p = self.timeline.phase(t)
        now = timezone.now()
        with tenant_context(self.organization_id):
            self._late(cycle, p, t, now)
            self._not_started(cycle, p, t, now)
            self._failed_far(cycle, p, t, now)

    def _current(self, role: str) -> Episode | None:
        episode = self.episodes.get(role)
        return None if episode is None or episode.done else episode

    def _late(self, cycle: int, p: float, t: float, now: dt.datetime) -> None:
        role = "late"
        if self._due(role, cycle, p):
            network = self._vehicle(role).network
            node = corridor_node(network, network.hub_node, LATE_STOP_M, self.rng)
            window = (now - dt.timedelta(minutes=90), now + dt.timedelta(seconds=LATE_WINDOW_S))
            self.episodes[role] = self._route(role, cycle, [network.nodes[node]], [window], now)
            return
        if episode := self._current(role):
            self._visit(episode, 0, role, t, p, S.DELIVERED, vanless_at=LATE_VANLESS_ARRIVAL)
            episode.done = "departed0" in episode.marks

    def _not_started(self, cycle: int, p: float, t: float, now: dt.datetime) -> None:
        """A route planned for 20 minutes ago that nobody took out yet: a vanless route each
        cycle (a van has one route a day), next to where the van waits."""
        role = "not_started"
        vehicle = self._vehicle(role)
        if self._due(role, cycle, p):
            assert vehicle.spot_node is not None
            window = (now - dt.timedelta(minutes=30), now + dt.timedelta(hours=2))
            point = vehicle.network.nodes[vehicle.spot_node]
            new = self._route(role, cycle, [point], [window], now, with_van=False, start=False)
            # What the plan said: the first stop 20 minutes ago (planning writes this field).
            Stop.objects.filter(pk=new.stops[0]).update(
                planned_arrival=now - NOT_STARTED_PLANNED_AGO
            )
            self.episodes[role] = new
            return
        episode = self._current(role)
        if episode is None:
            return
        late_enough = p >= NOT_STARTED_ARRIVE_AT or episode.cycle != cycle
        if "started" not in episode.marks and late_enough:
            route_start(organization_id=self.organization_id, route_id=episode.route_id,
                        source=SOURCE)  # fmt: skip
            episode.marks["started"] = t
        if "started" in episode.marks:
            self._visit(episode, 0, role, t, p, S.DELIVERED, vanless_at=NOT_STARTED_ARRIVE_AT)
        episode.done = "departed0" in episode.marks

    def _failed_far(self, cycle: int, p: float, t: float, now: dt.datetime) -> None:
        role = "failed_far"
        vehicle = self._vehicle(role)
        network = vehicle.network
        hub = network.nodes[network.hub_node]
        if self._due(role, cycle, p):
            far = corridor_node(network, network.hub_node, (1100.0, 1500.0), self.rng)
            # The second stop lies on the way to the first: the van goes there straight from
            # the hub, inside the corridor of what remains.
            path = network.shortest_path(network.hub_node, far) or [far]
            near = min(path, key=lambda n: abs(haversine_m(*hub, *network.nodes[n]) - FAIL_STOP_M))
            window = (now - dt.timedelta(minutes=30), now + dt.timedelta(hours=2))
            points = [network.nodes[far], network.nodes[near]]
            self.episodes[role] = self._route(role, cycle, points, [window, window], now)
            return
        episode = self._current(role)
        if episode is None:
            return
        marks = episode.marks
        if "departed0" not in marks:
            if p >= FAR_MARKED_AT or episode.cycle != cycle:
                # Still at the hub, the driver taps "arrived" and "delivered" for the first stop.
                self._arrive(episode, 0, role, t, stamp=hub)
                self._depart(episode, 0, role, t, S.DELIVERED, stamp=hub)
            return
        self._visit(episode, 1, role, t, p, S.FAILED, vanless_at=FAILED_VANLESS_ARRIVAL)
        failed_at = marks.get("departed1")
        if failed_at is not None and t - failed_at >= FAILED_RETURNED_AFTER_S:
            order_id = Stop.objects.values_list("order_id", flat=True).get(pk=episode.stops[1])
            order_transition(organization_id=self.organization_id, order_id=order_id,
                             to_status=S.RETURNED_TO_HUB, actor=None, source=SOURCE)  # fmt: skip
            episode.done = True

    # -- a run that stopped mid-cycle -----------------------------------------------------------

    def leftovers_close(self) -> None:
        """Finish what a previous run of the scenario left open (routes of its vehicles), so the
        vans do not chase old stops and old routes do not count as not started."""
        vehicle_ids = [ids[0] for ids in self.cast.ids.values()]
        org = self.organization_id
        with tenant_context(org):
            stops = list(
                Stop.objects.filter(
                    route__vehicle_id__in=vehicle_ids, actual_departure__isnull=True
                )
                .exclude(route__status=Route.Status.COMPLETED)
                .select_related("order")
            )
            failed = Order.objects.filter(
                status=S.FAILED, stops__route__vehicle_id__in=vehicle_ids
            ).values_list("pk", flat=True)
            for order_id in set(failed):
                order_transition(organization_id=org, order_id=order_id,
                                 to_status=S.RETURNED_TO_HUB, actor=None, source=SOURCE)  # fmt: skip
            for stop in stops:
                try:
                    if stop.order.status == S.ARRIVED:
                        stop_depart(organization_id=org, stop_id=stop.pk,
                                    to_status=S.DELIVERED, source=SOURCE)  # fmt: skip
                    elif stop.order.status in (S.ASSIGNED, S.OUT_FOR_DELIVERY):
                        stop_remove(organization_id=org, route_id=stop.route_id, stop_id=stop.pk)
                        order_transition(organization_id=org, order_id=stop.order_id,
                                         to_status=S.CANCELLED, actor=None, source=SOURCE)  # fmt: skip
                except (DomainError, ValidationError) as exc:
                    logger.warning("scenario: could not close stop %s: %s", stop.pk, exc)
        if stops:
            self.log(f"scenario: closed {len(stops)} stop(s) a previous run left open")
