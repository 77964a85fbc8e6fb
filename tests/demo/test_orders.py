from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from deliveries.models import DeliveryEvent, FailureReason, Order, OrderStatus, Route, Stop
from demo.orders import (
    ARRIVAL_RADIUS_M,
    ROUTES_PER_HUB,
    SERVICE_TIME,
    STOPS_PER_ROUTE,
    TOP_UP_BELOW,
    demo_orders_seed,
    demo_progress,
    demo_routes_seed,
    route_goals_load,
)
from demo.simulator.driver import SimulatedVehicle
from demo.simulator.roads import build_network, network_for_hub
from fleet.geo import haversine_m
from fleet.models import Driver, VehicleState
from tenancy.models import Organization
from tests.factories import DeviceFactory, HubFactory
from tests.support.etas import on_commit_run

pytestmark = pytest.mark.django_db


def test_demo_orders_seed_creates_orders_with_timelines_once() -> None:
    hub = HubFactory.create()
    organization = hub.organization
    HubFactory.create(organization=organization)
    assert demo_orders_seed(organization) == 40
    assert demo_orders_seed(organization) == 0  # running again adds nothing
    with scope(organization=organization.pk):
        assert Order.objects.count() == 40
        assert FailureReason.objects.count() >= 5
        statuses = set(Order.objects.values_list("status", flat=True))
        assert len(statuses) >= 4
        assert Order.objects.filter(latitude__isnull=True).count() == 4
        assert DeliveryEvent.objects.count() > 40
        assert not Order.objects.filter(events__isnull=True).exists()


# -- routes that move as the simulated fleet drives --------------------------------------------


@pytest.fixture
def demo_fleet(db: Any) -> dict[str, Any]:
    """A demo organization (by its slug) with two hubs and two tracked vehicles on each."""
    first = HubFactory.create(
        organization__slug="northwind", organization__timezone="Europe/Amsterdam",
        latitude=52.3720, longitude=4.8360,
    )  # fmt: skip
    organization = first.organization
    second = HubFactory.create(organization=organization, latitude=52.3600, longitude=4.9400)
    devices = [
        DeviceFactory.create(organization=organization, vehicle__hub=hub)
        for hub in (first, second)
        for _ in range(2)
    ]
    return {"organization": organization, "hubs": [first, second], "devices": devices}


def open_stops(route: Route) -> list[Stop]:
    with scopes_disabled():
        return list(
            Stop.objects.filter(route=route, actual_arrival__isnull=True)
            .select_related("order")
            .order_by("sequence")
        )


def test_demo_routes_are_dispatched_with_stops_on_the_road_network(
    demo_fleet: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    organization = demo_fleet["organization"]
    with django_capture_on_commit_callbacks() as callbacks:
        assert demo_routes_seed(organization) == 4
    assert on_commit_run(callbacks) >= 4  # ETA refresh tasks: at least one per route
    assert demo_routes_seed(organization) == 0  # today's routes exist
    with scopes_disabled():
        routes = list(Route.objects.filter(organization=organization).select_related("hub"))
        assert {route.status for route in routes} == {Route.Status.DISPATCHED}
        for route in routes:
            network = network_for_hub(route.hub, [h for h in demo_fleet["hubs"] if h != route.hub])
            stops = list(route.stops.select_related("order").order_by("sequence"))
            assert [s.sequence for s in stops] == list(range(1, STOPS_PER_ROUTE + 1))
            for stop in stops:
                assert stop.order.status == OrderStatus.OUT_FOR_DELIVERY
                node = network.nodes[
                    network.nearest_node(stop.order.latitude, stop.order.longitude)
                ]
                # On a junction the simulated vehicle can drive to (rounded to 6 decimals).
                assert haversine_m(stop.order.latitude, stop.order.longitude, *node) < 0.2
            assert all(stop.eta is not None for stop in stops)


def test_demo_progress_follows_the_vehicles(demo_fleet: dict[str, Any]) -> None:
    organization = demo_fleet["organization"]
    now = timezone.now()
    demo_progress(now=now)
    with scopes_disabled():
        route = Route.objects.filter(organization=organization).order_by("pk")[0]
        device = route.vehicle.device
    target = open_stops(route)[0]
    assert target.order.latitude is not None
    assert route_goals_load([device.identifier]) == {
        device.identifier: (target.order.latitude, target.order.longitude)
    }
    assert demo_progress(now=now) == 0  # nobody is near a stop yet

    # The tracker reports the vehicle 20 m from its next stop: the stop is reached.
    with scopes_disabled():
        VehicleState.objects.create(
            organization=organization, vehicle=route.vehicle, device=device, fix_time=now,
            server_time=now, latitude=target.order.latitude + 0.00018,
            longitude=target.order.longitude,
        )  # fmt: skip
    assert demo_progress(now=now) == 1
    with scopes_disabled():
        target.refresh_from_db()
        route.refresh_from_db()
        assert target.actual_arrival == now and route.status == Route.Status.IN_PROGRESS
        assert Order.objects.get(pk=target.order_id).status == OrderStatus.ARRIVED
    following = open_stops(route)[0]
    assert route_goals_load([device.identifier])[device.identifier] == (
        following.order.latitude, following.order.longitude,
    )  # fmt: skip

    # A little later the delivery is done (delivered, or now and then failed with a reason).
    assert demo_progress(now=now + dt.timedelta(seconds=10)) == 0
    assert demo_progress(now=now + SERVICE_TIME) == 1
    with scopes_disabled():
        order = Order.objects.get(pk=target.order_id)
        assert order.status in (OrderStatus.DELIVERED, OrderStatus.FAILED)
        target.refresh_from_db()
        assert target.actual_departure == now + SERVICE_TIME
        sources = set(DeliveryEvent.objects.filter(order=order).values_list("source", flat=True))
        assert DeliveryEvent.Source.DRIVER in sources


def test_demo_routes_never_run_dry(demo_fleet: dict[str, Any]) -> None:
    organization = demo_fleet["organization"]
    now = timezone.now()
    demo_progress(now=now)
    with scopes_disabled():
        route = Route.objects.filter(organization=organization).order_by("pk")[0]
        device = route.vehicle.device
        state = VehicleState.objects.create(
            organization=organization, vehicle=route.vehicle, device=device, fix_time=now,
            server_time=now, latitude=0, longitude=0,
        )  # fmt: skip
    for step in range(STOPS_PER_ROUTE + 2):
        target = open_stops(route)[0].order
        clock = now + dt.timedelta(minutes=step)
        with scopes_disabled():
            VehicleState.objects.filter(pk=state.pk).update(
                latitude=target.latitude, longitude=target.longitude, fix_time=clock
            )
        demo_progress(now=clock)
        demo_progress(now=clock + SERVICE_TIME)
    assert len(open_stops(route)) >= TOP_UP_BELOW
    with scopes_disabled():
        route.refresh_from_db()
        assert route.status == Route.Status.IN_PROGRESS
        assert route.stops.filter(actual_departure__isnull=False).count() == STOPS_PER_ROUTE + 2


def test_demo_progress_leaves_other_organizations_alone(db: Any) -> None:
    device = DeviceFactory.create()
    assert demo_progress() == 0
    with scopes_disabled():
        assert not Route.objects.filter(organization=device.organization).exists()


def test_a_simulated_vehicle_with_a_goal_drives_there_and_waits() -> None:
    network = build_network(52.37, 4.89)
    vehicle = SimulatedVehicle(
        "goal-1", network, start_time=0.0, rng=random.Random(3), start_at_hub=True
    )
    hub = network.nodes[network.hub_node]
    goal_node = max(
        network.node_ids, key=lambda n: -abs(haversine_m(*hub, *network.nodes[n]) - 1500)
    )
    goal = network.nodes[goal_node]
    vehicle.goal = (goal[0] + 0.0001, goal[1])  # a stop a few metres off the junction
    fixes = vehicle.advance(1200.0)
    assert vehicle.node == goal_node and vehicle.mode == "dwell"
    assert haversine_m(fixes[-1].lat, fixes[-1].lon, *goal) < ARRIVAL_RADIUS_M
    fixes = vehicle.advance(1500.0)  # still there while the goal stays put
    assert all(haversine_m(f.lat, f.lon, *goal) < ARRIVAL_RADIUS_M for f in fixes)
    vehicle.goal = None  # no route: it roams again
    vehicle.advance(2400.0)
    assert vehicle.node != goal_node or vehicle.mode == "drive"


def test_a_roaming_vehicle_turns_towards_a_new_goal_at_the_next_junction() -> None:
    network = build_network(52.37, 4.89)
    vehicle = SimulatedVehicle("goal-2", network, start_time=0.0, rng=random.Random(5))
    t = 0.0
    while vehicle.mode != "drive":  # wait until it is on a trip of its own
        t += 5
        vehicle.advance(t)
    roaming_to = vehicle._route[-1]
    goal_node = next(
        n
        for n in network.node_ids
        if n != roaming_to and 1000 < haversine_m(*network.nodes[n], *vehicle.position) < 2000
    )
    vehicle.goal = network.nodes[goal_node]
    vehicle.advance(t + 60)  # past the next junction (blocks are 250-400 m)
    assert vehicle._route[-1] == goal_node
    # 2 km at city speeds takes minutes, not the rest of a random trip plus a dwell.
    vehicle.advance(t + 600)
    assert vehicle.node == goal_node and vehicle.mode == "dwell"


def test_demo_progress_leaves_the_routes_of_drivers_with_a_login_alone(
    demo_fleet: dict[str, Any],
) -> None:
    organization = demo_fleet["organization"]
    now = timezone.now()
    demo_progress(now=now)
    with scopes_disabled():
        human, robot = Route.objects.filter(organization=organization).order_by("pk")[:2]
        person = get_user_model().objects.create_user(username="demo-person")
        Driver.objects.filter(pk=human.driver_id).update(user=person)
    # Both vans stand at their next stop, long enough for the robot to have delivered it.
    for route in (human, robot):
        target = open_stops(route)[0].order
        with scopes_disabled():
            VehicleState.objects.create(
                organization=organization, vehicle=route.vehicle, device=route.vehicle.device,
                fix_time=now, server_time=now, latitude=target.latitude,
                longitude=target.longitude,
            )  # fmt: skip
    assert demo_progress(now=now) == 1  # the robot's van arrives, the person's does not
    assert demo_progress(now=now + SERVICE_TIME) == 1
    assert len(open_stops(human)) == STOPS_PER_ROUTE
    with scopes_disabled():
        assert not Stop.objects.filter(route=human, actual_arrival__isnull=False).exists()
        assert Route.objects.get(pk=human.pk).status == Route.Status.DISPATCHED
        assert Stop.objects.filter(route=robot, actual_departure__isnull=False).count() == 1
    # The simulated van still heads for the person's first stop and waits there for them.
    first = open_stops(human)[0].order
    identifier = human.vehicle.device.identifier
    assert route_goals_load([identifier])[identifier] == (first.latitude, first.longitude)


def test_seed_demo_plans_todays_routes_at_once(django_capture_on_commit_callbacks: Any) -> None:
    from demo.seed import demo_seed
    from demo.tenants import DEMO_ORGANIZATIONS

    with django_capture_on_commit_callbacks() as callbacks:  # the ETAs come on commit
        demo_seed()
    assert on_commit_run(callbacks) > 0  # one ETA refresh task per route, run here
    with scopes_disabled():
        for spec in DEMO_ORGANIZATIONS:
            organization = Organization.objects.get(slug=spec.slug)
            today = timezone.now().astimezone(zoneinfo.ZoneInfo(spec.timezone)).date()
            routes = Route.objects.filter(organization=organization, date=today)
            assert routes.count() == len(spec.hubs) * ROUTES_PER_HUB
            assert {route.status for route in routes} == {Route.Status.DISPATCHED}
            assert not Stop.objects.filter(route__in=routes, eta__isnull=True).exists()
            # The demo driver login has a route of its own to work in the driver app.
            assert routes.filter(driver__user__username=f"{spec.prefix}-driver").exists()
        count = Route.objects.count()
    demo_seed()  # idempotent: a second run plans nothing more
    with scopes_disabled():
        assert Route.objects.count() == count
