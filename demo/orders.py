"""Demo orders and routes, and the demo's heartbeat that moves them as the simulated fleet drives.

`demo_orders_seed` (called from the demo seed, demo/seed.py) makes failure reasons and about
forty orders per organization with a mix of histories; running it again adds nothing.

`demo_routes_seed` gives a few vehicles per hub today's dispatched route. Its orders sit on the
simulator's road network (demo/simulator/roads.py), so a simulated vehicle steered to its next
stop (`route_goals_load`, read by `manage.py simulate_fleet`) really gets there.

`demo_progress` (a Celery beat task, demo/tasks.py) marks a stop arrived when its
vehicle's last fix is within ARRIVAL_RADIUS_M, delivers it (now and then fails it) a little
later, and tops routes up with fresh orders so the day never runs dry. Routes of drivers who
have a login (the demo users `nw-driver`, `sb-driver`) are left to that person's driver app.

Everything goes through the services, so every order has a real timeline.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo

from django.utils import timezone

from deliveries.models import DeliveryEvent, FailureReason, Order, OrderStatus, Route, Stop
from deliveries.services.orders import order_create, order_transition
from deliveries.services.routes import (
    route_create,
    route_dispatch,
    stop_add,
    stop_arrive,
    stop_depart,
)
from deliveries.transitions import FINAL_STATUSES
from fleet.geo import haversine_m
from fleet.models import Hub, Vehicle, VehicleState
from tenancy.context import operator_context, tenant_context
from tenancy.models import Organization

from .simulator.roads import RoadNetwork, build_network
from .simulator.scripted import SCENARIO_DEVICES
from .tenants import demo_organizations

FAILURE_REASONS = (
    ("not_home", "Recipient not at home"),
    ("refused", "Refused by recipient"),
    ("wrong_address", "Address wrong or not found"),
    ("no_access", "No access to the building"),
    ("damaged", "Parcel damaged"),
    ("business_closed", "Business closed"),
)

FIRST_NAMES = ("Ana", "Bas", "Carla", "Dirk", "Eva", "Filipe", "Greta", "Hugo", "Inês", "Jan")
LAST_NAMES = ("de Vries", "Silva", "Jansen", "Costa", "Bakker", "Santos", "Visser", "Pereira")
STREETS = ("Main Street", "Canal Road", "Harbour Lane", "Market Square", "Station Road", "Park Way")

# Where the demo orders stand: a status and the moves that get an order there.
S = OrderStatus
JOURNEYS: tuple[tuple[str, ...], ...] = (
    (),
    (S.ASSIGNED,),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.DELIVERED),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.DELIVERED),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.FAILED),
    (S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.FAILED, S.RETURNED_TO_HUB),
    (S.CANCELLED,),
)


def demo_orders_seed(organization: Organization, *, count: int = 40) -> int:
    """Seed failure reasons and `count` orders; returns how many orders were created."""
    # The demo is an edge like a command: it enters the organization's context once.
    with tenant_context(organization.pk):
        return _orders_seed(organization, count=count)


def _orders_seed(organization: Organization, *, count: int) -> int:
    for code, label in FAILURE_REASONS:
        FailureReason.objects.get_or_create(
            organization=organization, code=code, defaults={"label": label}
        )
    if Order.objects.exists():
        return 0
    hubs = list(Hub.objects.order_by("code"))
    if not hubs:
        return 0
    rng = random.Random(f"orders-{organization.slug}")  # the same demo on every machine
    zone = zoneinfo.ZoneInfo(organization.timezone)
    today = timezone.now().astimezone(zone).date()
    for number in range(1, count + 1):
        hub = hubs[number % len(hubs)]
        start_hour = rng.choice((8, 10, 12, 14, 16, 18))
        window_start = dt.datetime.combine(today, dt.time(start_hour), tzinfo=zone)
        # One order in ten has no coordinates yet: it shows up as "needs coordinates".
        located = number % 10 != 0
        order = order_create(
            organization_id=organization.pk,
            hub_id=hub.pk,
            reference=f"{organization.slug[:2].upper()}-{today:%y%m%d}-{number:04d}",
            customer_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            phone=f"+{rng.randint(30, 39)} 6{rng.randint(1000000, 9999999)}",
            email=f"customer{number}@example.com",
            address=f"{rng.randint(1, 240)} {rng.choice(STREETS)}, {hub.region or hub.name}",
            latitude=hub.latitude + rng.uniform(-0.03, 0.03) if located else None,
            longitude=hub.longitude + rng.uniform(-0.045, 0.045) if located else None,
            window_start=window_start,
            window_end=window_start + dt.timedelta(hours=2),
            service_minutes=rng.choice((2, 3, 5, 8)),
            priority=rng.choice((0, 0, 0, 1, 2)),
            weight_kg=round(rng.uniform(0.2, 25), 1),
            volume_l=round(rng.uniform(1, 80), 1),
            source=DeliveryEvent.Source.SYSTEM,
        )
        for to_status in rng.choice(JOURNEYS) if located else ():
            order_transition(
                organization_id=organization.pk,
                order_id=order.pk,
                to_status=to_status,
                actor=None,
                source=DeliveryEvent.Source.SYSTEM,
                reason_code=rng.choice(FAILURE_REASONS)[0] if to_status == S.FAILED else None,
            )
    return count


# -- routes that move --------------------------------------------------------------------------

ROUTES_PER_HUB = 3
STOPS_PER_ROUTE = 6
TOP_UP_BELOW = 3  # open stops; below this a route gets new orders
ARRIVAL_RADIUS_M = 80.0
FIX_MAX_AGE = dt.timedelta(minutes=2)
SERVICE_TIME = dt.timedelta(seconds=45)  # between arrival and delivered, in the demo
FAILURE_ONE_IN = 8
MIN_STOP_DISTANCE_M = 500.0


def _hub_network(hub: Hub) -> RoadNetwork:
    """The road network the simulator drives around this hub (the same cached build)."""
    others = Hub.objects.exclude(pk=hub.pk).order_by("pk")
    return build_network(hub.latitude, hub.longitude, [(h.latitude, h.longitude) for h in others])


def _organization_today(organization: Organization) -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(organization.timezone)).date()


def _demo_order_on_network(
    organization: Organization, hub: Hub, network: RoadNetwork, rng: random.Random, now: dt.datetime
) -> Order:
    """A new order at a junction of the hub's road network, due within the next hours."""
    while True:
        node = rng.choice(network.node_ids)
        latitude, longitude = network.nodes[node]
        if haversine_m(hub.latitude, hub.longitude, latitude, longitude) >= MIN_STOP_DISTANCE_M:
            break
    # Windows from the current half hour on: most are met, a tight few show up as late risk.
    window_start = now.replace(minute=30 if now.minute >= 30 else 0, second=0, microsecond=0)
    window_start += dt.timedelta(minutes=rng.choice((0, 30, 60, 90, 120)))
    number = Order.objects.count() + 1
    return order_create(
        organization_id=organization.pk,
        hub_id=hub.pk,
        reference=f"{organization.slug[:2].upper()}-{now:%y%m%d}-R{number:04d}",
        customer_name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
        phone=f"+{rng.randint(30, 39)} 6{rng.randint(1000000, 9999999)}",
        address=f"{rng.randint(1, 240)} {rng.choice(STREETS)}, {hub.region or hub.name}",
        latitude=round(latitude, 6),
        longitude=round(longitude, 6),
        window_start=window_start,
        window_end=window_start + dt.timedelta(hours=rng.choice((1, 2, 2))),
        service_minutes=rng.choice((2, 3, 5)),
        source=DeliveryEvent.Source.API,
    )


def _route_top_up(route: Route, count: int, rng: random.Random, now: dt.datetime) -> None:
    network = _hub_network(route.hub)
    orders = [
        _demo_order_on_network(route.organization, route.hub, network, rng, now)
        for _ in range(count)
    ]
    # Earliest window first, as a planner would: late risk stays the exception.
    for order in sorted(orders, key=lambda order: (order.window_start, order.pk)):
        stop_add(organization_id=route.organization_id, route_id=route.pk, order_id=order.pk)


def demo_routes_seed(organization: Organization, *, now: dt.datetime | None = None) -> int:
    """Today's dispatched routes for the first ROUTES_PER_HUB vehicles of each hub; returns how
    many were created (none when today's exist)."""
    with tenant_context(organization.pk):
        return _routes_seed(organization, now=now)


def _routes_seed(organization: Organization, *, now: dt.datetime | None) -> int:
    now = now or timezone.now()
    today = _organization_today(organization)
    rng = random.Random(f"routes-{organization.slug}-{today}")
    created = 0
    if Route.objects.filter(date=today).exists():
        return 0
    hubs = list(Hub.objects.order_by("code"))
    plans = [
        (hub, vehicle)
        for hub in hubs
        for vehicle in Vehicle.objects.filter(hub=hub, active=True, driver__isnull=False)
        .exclude(device=None)
        .order_by("plate")[:ROUTES_PER_HUB]
    ]
    for hub, vehicle in plans:
        route = route_create(
            organization_id=organization.pk,
            hub_id=hub.pk,
            date=today,
            vehicle_id=vehicle.pk,
            driver_id=vehicle.driver_id,
        )
        route.organization, route.hub = organization, hub
        _route_top_up(route, STOPS_PER_ROUTE, rng, now)
        route_dispatch(organization_id=organization.pk, route_id=route.pk, now=now)
        created += 1
    return created


def _route_progress(route: Route, rng: random.Random, now: dt.datetime) -> int:
    """Arrive, deliver and top up one route; returns how many stops moved."""
    organization_id = route.organization_id
    moved = 0
    state = VehicleState.objects.filter(vehicle_id=route.vehicle_id).first()
    reasons = list(FailureReason.objects.filter(active=True).values_list("code", flat=True))
    stops = list(
        Stop.objects.filter(route=route, actual_departure__isnull=True)
        .exclude(order__status__in=FINAL_STATUSES)
        .select_related("order")
        .order_by("sequence")
    )
    for stop in stops:
        if stop.actual_arrival is not None and now - stop.actual_arrival >= SERVICE_TIME:
            failed = bool(reasons) and rng.randrange(FAILURE_ONE_IN) == 0
            stop_depart(
                organization_id=organization_id,
                stop_id=stop.pk,
                to_status=S.FAILED if failed else S.DELIVERED,
                reason_code=rng.choice(reasons) if failed else None,
                source=DeliveryEvent.Source.DRIVER,
                now=now,
            )
            moved += 1
    upcoming = [stop for stop in stops if stop.actual_arrival is None]
    if upcoming and state is not None and now - state.fix_time <= FIX_MAX_AGE:
        target = upcoming[0].order
        distance = haversine_m(state.latitude, state.longitude, target.latitude, target.longitude)
        if distance <= ARRIVAL_RADIUS_M:
            stop_arrive(
                organization_id=organization_id,
                stop_id=upcoming[0].pk,
                source=DeliveryEvent.Source.DRIVER,
                latitude=state.latitude,
                longitude=state.longitude,
                now=now,
            )
            upcoming.pop(0)
            moved += 1
    if len(upcoming) < TOP_UP_BELOW:
        _route_top_up(route, STOPS_PER_ROUTE - len(upcoming), rng, now)
    return moved


def demo_progress(*, now: dt.datetime | None = None) -> int:
    """One heartbeat of the demo: returns how many stops moved (arrived or done)."""
    now = now or timezone.now()
    rng = random.Random()
    moved = 0
    for organization in demo_organizations():
        with tenant_context(organization.pk):
            moved += _organization_progress(organization, rng, now)
    return moved


def _organization_progress(organization: Organization, rng: random.Random, now: dt.datetime) -> int:
    _routes_seed(organization, now=now)
    routes = list(
        Route.objects.filter(
            organization_id=organization.pk,
            date=_organization_today(organization),
            status__in=(Route.Status.DISPATCHED, Route.Status.IN_PROGRESS),
            vehicle__isnull=False,
            # A driver with a login drives their route in the driver app: the robot
            # leaves it alone (a LEFT JOIN, so routes without a driver still move).
            driver__user__isnull=True,
        )
        # The scenario's vans play their routes themselves (demo/scenario.py).
        .exclude(vehicle__device__identifier__in=SCENARIO_DEVICES.values())
        .select_related("hub", "organization")
    )
    return sum(_route_progress(route, rng, now) for route in routes)


def route_goals_load(device_identifiers: list[str]) -> dict[str, tuple[float, float]]:
    """Where each simulated device should drive next: the first unvisited stop of its
    vehicle's route on the road (the simulator asks this every few seconds)."""
    goals: dict[str, tuple[float, float]] = {}
    with operator_context():
        stops = (
            Stop.objects.filter(
                route__status__in=(Route.Status.DISPATCHED, Route.Status.IN_PROGRESS),
                route__vehicle__device__identifier__in=device_identifiers,
                actual_arrival__isnull=True,
                order__latitude__isnull=False,
            )
            .exclude(order__status__in=FINAL_STATUSES)
            .order_by("-route__date", "sequence")
            .values_list(
                "route__vehicle__device__identifier", "order__latitude", "order__longitude"
            )
        )
        for identifier, latitude, longitude in stops:
            goals.setdefault(identifier, (latitude, longitude))
    return goals
