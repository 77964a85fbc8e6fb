"""The routes API over HTTP: list and detail (filters, ETAs, late risk, ETag, updated_since),
create, add, move and remove stops, dispatch, the plan-version check, scopes and roles."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from deliveries.models import DeliveryEvent, Order, Route, Stop
from tenancy.models import ApiToken, Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import api_token_of, order_advance, order_build
from tests.factories import HubFactory, VehicleFactory
from tests.support.at_once import at_once
from tests.support.etas import on_commit_run
from tests.support.problems import problem_fields, problem_of

pytestmark = pytest.mark.django_db

ROUTES = "/api/v1/routes/"


def token_client(label: str = "Alpha") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_of(label)}")


def scoped_client(tenant: Tenant, scopes: list[str]) -> Client:
    with scopes_disabled():
        token = ApiToken(organization=tenant.organization, name=f"t-{uuid.uuid4()}", scopes=scopes)
        plain = token.set_token()
        token.save()
    return Client(HTTP_AUTHORIZATION=f"Token {plain}")


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


def day(offset: int = 1) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=offset)


def route_new(client: Client, tenant: Tenant, *, vehicle: bool = True, offset: int = 1) -> Any:
    """A route created through the API (its own vehicle and driver unless `vehicle=False`)."""
    body: dict[str, Any] = {"hub": tenant.hub.pk, "date": day(offset).isoformat()}
    if vehicle:
        van = VehicleFactory.create(organization=tenant.organization, hub=tenant.hub)
        body.update(vehicle=van.pk, driver=van.driver_id)
    response = post(client, ROUTES, body)
    assert response.status_code == 201, response.content
    return response.json()


def orders_new(tenant: Tenant, count: int, **fields: Any) -> list[Order]:
    return [
        order_build(
            tenant.organization,
            tenant.hub,
            reference=f"API-{uuid.uuid4().hex[:8]}",
            latitude=tenant.hub.latitude + 0.002 * (number + 1),
            **fields,
        )
        for number in range(count)
    ]


def stops_add(client: Client, route: dict[str, Any], orders: list[Order]) -> dict[str, Any]:
    """Add the orders as stops, each with the plan version the previous answer gave."""
    for order in orders:
        response = post(
            client,
            f"{ROUTES}{route['id']}/stops/",
            {"order": order.pk, "plan_version": route["plan_version"]},
        )
        assert response.status_code == 201, response.content
        route = response.json()
    return route


def plan_of(route: dict[str, Any]) -> list[tuple[int, str]]:
    return [(stop["sequence"], stop["order_reference"]) for stop in route["stops"]]


def status_of(order: Order) -> str:
    with scopes_disabled():
        return Order.objects.get(pk=order.pk).status


def route_row(route_id: int) -> Route:
    with scopes_disabled():
        return Route.objects.get(pk=route_id)


# --- create, detail, list ------------------------------------------------------------------


def test_create_answers_201_with_location_and_the_empty_plan(tenant_a: Tenant) -> None:
    client = token_client()
    response = post(client, ROUTES, {"hub": tenant_a.hub.pk, "date": day().isoformat()})
    assert response.status_code == 201
    route = response.json()
    assert response["Location"] == f"{ROUTES}{route['id']}/"
    assert (route["status"], route["plan_version"], route["stops"]) == ("planned", 0, [])
    assert (route["vehicle"], route["driver"], route["hub_name"]) == (None, None, tenant_a.hub.name)
    assert client.get(response["Location"]).json() == route


def test_create_refuses_bad_input_by_field_and_creates_nothing(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client = token_client()
    with scopes_disabled():
        before = Route.objects.count()
    today = day().isoformat()
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"hub": tenant_b.hub.pk, "date": today}, {"hub"}),
        ({"hub": tenant_a.hub.pk, "date": today, "vehicle": tenant_b.vehicle.pk}, {"vehicle"}),
        ({"hub": tenant_a.hub.pk, "date": today, "driver": tenant_b.driver.pk}, {"driver"}),
        ({"hub": tenant_a.hub.pk, "date": "tomorrow"}, {"date"}),
        ({"hub": tenant_a.hub.pk}, {"date"}),
        ({"hub": tenant_a.hub.pk, "date": today, "status": "dispatched"}, {"status"}),
        # The tenant's vehicle has today's route already (tests/deliveries/builders.py).
        (
            {
                "hub": tenant_a.hub.pk,
                "date": timezone.localdate().isoformat(),
                "vehicle": tenant_a.vehicle.pk,
            },
            {"vehicle"},
        ),
    ]
    for body, fields in cases:
        response = post(client, ROUTES, body)
        assert response.status_code == 400, (body, response.content)
        assert problem_fields(response) == fields, body
    with scopes_disabled():
        assert Route.objects.count() == before


def test_create_is_idempotent_with_a_key(tenant_a: Tenant) -> None:
    client = token_client()
    body = {"hub": tenant_a.hub.pk, "date": day(3).isoformat()}
    first = post(client, ROUTES, body, **{"Idempotency-Key": "route-1"})
    again = post(client, ROUTES, body, **{"Idempotency-Key": "route-1"})
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    other = post(
        client, ROUTES, {**body, "date": day(4).isoformat()}, **{"Idempotency-Key": "route-1"}
    )
    problem_of(other, 422)
    with scopes_disabled():
        assert Route.objects.filter(date=day(3)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_plans_at_once_for_one_vehicle_make_one_route(tenant_a: Tenant) -> None:
    """Two creates for the same vehicle and day at the same moment (two dispatchers, or an
    integration's retry without a key): one route, the other a 400 on `vehicle`."""
    body = {"hub": tenant_a.hub.pk, "date": day(6).isoformat(), "vehicle": tenant_a.vehicle.pk}
    answers = at_once(lambda: post(token_client(), ROUTES, body), times=3)
    assert sorted(answer.status_code for answer in answers) == [201, 400, 400]
    for refused in (answer for answer in answers if answer.status_code == 400):
        assert problem_fields(refused) == {"vehicle"}
    with scopes_disabled():
        assert Route.objects.filter(date=day(6), vehicle=tenant_a.vehicle).count() == 1


def test_detail_shows_each_stops_eta_and_late_risk(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    client = token_client()
    route = route_new(client, tenant_a)
    # One order whose window closed long ago: its ETA is past the window, a late risk.
    start = timezone.now() - dt.timedelta(hours=5)
    late = orders_new(tenant_a, 1, window_start=start, window_end=start + dt.timedelta(hours=1))
    on_time = orders_new(
        tenant_a, 1, window_start=timezone.now(), window_end=timezone.now() + dt.timedelta(days=1)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        route = stops_add(client, route, late + on_time)
    assert on_commit_run(callbacks) >= 1  # the ETA refresh a plan change queues
    detail = client.get(f"{ROUTES}{route['id']}/").json()
    stops = detail["stops"]
    assert [stop["order"] for stop in stops] == [late[0].pk, on_time[0].pk]
    assert all(stop["eta"] is not None and stop["eta_updated_at"] for stop in stops)
    assert [stop["late_risk"] for stop in stops] == [True, False]
    assert detail["late_count"] == 1 and detail["stop_count"] == 2
    assert stops[0]["order_status"] == "assigned"
    one = client.get(f"{ROUTES}{route['id']}/stops/{stops[1]['id']}/")
    assert one.status_code == 200 and one.json() == stops[1]
    problem_of(
        client.get(f"{ROUTES}{route['id']}/stops/{tenant_a.delivery_objects[Stop].pk}/"), 404
    )


def test_list_filters_like_the_console_and_pages_by_cursor(tenant_a: Tenant) -> None:
    client = token_client()
    created = [route_new(client, tenant_a, offset=offset)["id"] for offset in (1, 2, 3)]
    listing = client.get(ROUTES, {"limit": 2})
    assert listing.status_code == 200
    seen = [row["id"] for row in listing.json()["results"]]
    seen += [row["id"] for row in client.get(listing.json()["next"]).json()["results"]]
    assert set(created) <= set(seen) and seen == sorted(seen) and len(seen) == len(set(seen))
    by_day = client.get(ROUTES, {"date": day(2).isoformat()}).json()["results"]
    assert [row["id"] for row in by_day] == [created[1]]
    window = client.get(ROUTES, {"date_from": day(2).isoformat(), "date_to": day(3).isoformat()})
    assert [row["id"] for row in window.json()["results"]] == created[1:]
    planned = client.get(ROUTES, {"status": "planned", "hub": str(tenant_a.hub.pk)})
    planned_ids = {row["id"] for row in planned.json()["results"]}
    assert set(created) <= planned_ids
    assert client.get(ROUTES, {"status": "completed"}).json()["results"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"date": "soon"},
        {"status": "lost"},
        {"hub": "1.5"},
        {"vehicle": "abc"},
        {"updated_since": "2026-12-02T10:00:00"},
        {"limit": "0"},
        {"cursor": "garbage"},
        {"date": ""},
    ],
)
def test_bad_list_parameters_are_refused_by_name(tenant_a: Tenant, query: dict[str, str]) -> None:
    response = token_client().get(ROUTES, query)
    assert response.status_code == 400
    assert problem_fields(response) == set(query)


def test_updated_since_returns_the_routes_whose_plan_changed(tenant_a: Tenant) -> None:
    client = token_client()
    route_new(client, tenant_a, offset=1)
    busy = route_new(client, tenant_a, offset=2)
    with scopes_disabled():
        # All of the organization's routes (the tenant's own, today's, too) and their orders
        # changed long ago.
        long_ago = timezone.now() - dt.timedelta(hours=1)
        Route.objects.filter(organization=tenant_a.organization).update(updated_at=long_ago)
        Order.objects.filter(organization=tenant_a.organization).update(updated_at=long_ago)
    since = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    assert client.get(ROUTES, {"updated_since": since}).json()["results"] == []
    stops_add(client, busy, orders_new(tenant_a, 1))
    changed = client.get(ROUTES, {"updated_since": since}).json()["results"]
    assert [row["id"] for row in changed] == [busy["id"]]


def test_updated_since_returns_the_routes_whose_orders_changed(tenant_a: Tenant) -> None:
    """A route shows its stops' orders: an order's change through orders/ (a PATCH, a status
    transition) makes its route changed too, and the route's `updated_at` says when."""
    client = token_client()
    patched = stops_add(client, route_new(client, tenant_a, offset=1), orders_new(tenant_a, 1))
    moved = stops_add(client, route_new(client, tenant_a, offset=2), orders_new(tenant_a, 1))
    route_new(client, tenant_a, offset=3)  # no stops: never changed by an order
    long_ago = timezone.now() - dt.timedelta(hours=1)
    with scopes_disabled():
        Route.objects.filter(organization=tenant_a.organization).update(updated_at=long_ago)
        Order.objects.filter(organization=tenant_a.organization).update(updated_at=long_ago)
    since = timezone.now() - dt.timedelta(minutes=1)
    query = {"updated_since": since.isoformat()}
    assert client.get(ROUTES, query).json()["results"] == []
    detail = client.get(f"{ROUTES}{patched['id']}/").json()
    assert dt.datetime.fromisoformat(detail["updated_at"]) < since
    order_id = patched["stops"][0]["order"]
    changed = client.patch(
        f"/api/v1/orders/{order_id}/", {"address": "9 New Rd"}, content_type="application/json"
    )
    assert changed.status_code == 200, changed.content
    assert [row["id"] for row in client.get(ROUTES, query).json()["results"]] == [patched["id"]]
    moved_order = moved["stops"][0]["order"]
    transition = post(
        client, f"/api/v1/orders/{moved_order}/transition/", {"to_status": "out_for_delivery"}
    )
    assert transition.status_code == 200, transition.content
    rows = client.get(ROUTES, query).json()["results"]
    assert [row["id"] for row in rows] == [patched["id"], moved["id"]]
    assert all(dt.datetime.fromisoformat(row["updated_at"]) >= since for row in rows)
    detail = client.get(f"{ROUTES}{moved['id']}/").json()
    assert detail["stops"][0]["order_status"] == "out_for_delivery"
    assert dt.datetime.fromisoformat(detail["updated_at"]) >= since


def test_etag_304_until_the_plan_changes(tenant_a: Tenant) -> None:
    client = token_client()
    route = route_new(client, tenant_a)
    url = f"{ROUTES}{route['id']}/"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    listing = client.get(ROUTES)
    assert client.get(ROUTES, HTTP_IF_NONE_MATCH=listing["ETag"]).status_code == 304
    stops_add(client, route, orders_new(tenant_a, 1))
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


# --- plan changes ---------------------------------------------------------------------------


def test_adding_a_stop_assigns_the_order_and_bumps_the_plan(tenant_a: Tenant) -> None:
    client = token_client()
    route = route_new(client, tenant_a)
    order = orders_new(tenant_a, 1)[0]
    response = post(client, f"{ROUTES}{route['id']}/stops/", {"order": order.pk, "plan_version": 0})
    assert response.status_code == 201
    added = response.json()
    assert added["plan_version"] == 1 and added["stops"][0]["order"] == order.pk
    assert response["Location"] == f"{ROUTES}{route['id']}/stops/{added['stops'][0]['id']}/"
    assert client.get(response["Location"]).json()["order_reference"] == order.reference
    assert status_of(order) == "assigned"
    with scopes_disabled():
        event = DeliveryEvent.objects.filter(order=order).latest("id")
    assert (event.to_status, event.source) == ("assigned", DeliveryEvent.Source.API)


def test_a_stale_plan_version_is_409_and_changes_nothing(tenant_a: Tenant) -> None:
    client = token_client()
    route = stops_add(client, route_new(client, tenant_a), orders_new(tenant_a, 2))
    assert route["plan_version"] == 2
    first, second = (stop["id"] for stop in route["stops"])
    base = f"{ROUTES}{route['id']}"
    extra = orders_new(tenant_a, 1)[0]
    stale_calls = [
        (f"{base}/stops/", {"order": extra.pk, "plan_version": 1}),
        (f"{base}/stops/{second}/move/", {"sequence": 1, "plan_version": 1}),
        (f"{base}/stops/{first}/remove/", {"plan_version": 1}),
        (f"{base}/dispatch/", {"plan_version": 1}),
    ]
    for url, body in stale_calls:
        body_problem = problem_of(post(client, url, body), 409)
        assert body_problem["type"].endswith("/conflict")
        assert body_problem["plan_version"] == 2, url  # the version to reload
    after = client.get(f"{base}/").json()
    assert after["plan_version"] == 2 and plan_of(after) == plan_of(route)
    assert after["status"] == "planned" and status_of(extra) == "created"


def test_add_refuses_what_cannot_go_as_400_on_order(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = token_client()
    route = route_new(client, tenant_a)
    url = f"{ROUTES}{route['id']}/stops/"
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Far Depot")
    elsewhere = order_build(tenant_a.organization, other_hub, reference="FAR-1")
    delivered = orders_new(tenant_a, 1)[0]
    order_advance(delivered, "assigned", "out_for_delivery", "arrived", "delivered")
    assert tenant_b.order is not None
    for order_id in (tenant_b.order.pk, elsewhere.pk, delivered.pk, 2**62):
        response = post(client, url, {"order": order_id, "plan_version": 0})
        assert response.status_code == 400, (order_id, response.content)
        assert problem_fields(response) == {"order"}
    for body, fields in (
        ({"order": delivered.pk}, {"plan_version"}),
        ({"plan_version": 0}, {"order"}),
        ({"order": "x", "plan_version": -1}, {"order", "plan_version"}),
        ({"order": delivered.pk, "plan_version": 0, "sequence": 1}, {"sequence"}),
    ):
        assert problem_fields(post(client, url, body)) == fields, body
    assert client.get(f"{ROUTES}{route['id']}/").json()["plan_version"] == 0
    with scopes_disabled():
        assert Order.objects.get(pk=tenant_b.order.pk).status == "created"


def test_moving_a_stop_keeps_the_sequence_contiguous(tenant_a: Tenant) -> None:
    client = token_client()
    orders = orders_new(tenant_a, 4)
    route = stops_add(client, route_new(client, tenant_a), orders)
    refs = [order.reference for order in orders]
    last = route["stops"][3]["id"]
    moved = post(
        client,
        f"{ROUTES}{route['id']}/stops/{last}/move/",
        {"sequence": 2, "plan_version": route["plan_version"]},
    )
    assert moved.status_code == 200
    assert plan_of(moved.json()) == list(enumerate([refs[0], refs[3], refs[1], refs[2]], 1))
    first = moved.json()["stops"][0]["id"]
    back = post(
        client,
        f"{ROUTES}{route['id']}/stops/{first}/move/",
        {"sequence": 4, "plan_version": moved.json()["plan_version"]},
    ).json()
    assert plan_of(back) == list(enumerate([refs[3], refs[1], refs[2], refs[0]], 1))
    assert back["plan_version"] == route["plan_version"] + 2
    for sequence in (0, 5):
        refused = post(
            client,
            f"{ROUTES}{route['id']}/stops/{first}/move/",
            {"sequence": sequence, "plan_version": back["plan_version"]},
        )
        assert problem_fields(refused) == {"sequence"}
    problem_of(
        post(
            client,
            f"{ROUTES}{route['id']}/stops/{tenant_a.delivery_objects[Stop].pk}/move/",
            {"sequence": 1, "plan_version": back["plan_version"]},
        ),
        404,
    )
    assert plan_of(client.get(f"{ROUTES}{route['id']}/").json()) == plan_of(back)


def patch(client: Client, url: str, body: Any) -> Any:
    return client.patch(url, body, content_type="application/json")


def test_a_planned_route_gets_its_vehicle_and_driver_later(tenant_a: Tenant) -> None:
    client = token_client()
    route = stops_add(client, route_new(client, tenant_a, vehicle=False), orders_new(tenant_a, 1))
    url = f"{ROUTES}{route['id']}/"
    van = VehicleFactory.create(organization=tenant_a.organization, hub=tenant_a.hub)
    response = patch(client, url, {"vehicle": van.pk, "plan_version": route["plan_version"]})
    assert response.status_code == 200, response.content
    crewed = response.json()
    assert (crewed["vehicle"], crewed["vehicle_plate"], crewed["driver"]) == (
        van.pk,
        van.plate,
        None,
    )
    assert crewed["plan_version"] == route["plan_version"] + 1
    crewed = patch(
        client, url, {"driver": van.driver_id, "plan_version": crewed["plan_version"]}
    ).json()
    assert (crewed["vehicle"], crewed["driver"]) == (van.pk, van.driver_id)
    same = patch(
        client,
        url,
        {"vehicle": van.pk, "driver": van.driver_id, "plan_version": crewed["plan_version"]},
    )
    assert same.status_code == 200 and same.json()["plan_version"] == crewed["plan_version"]
    dispatched = post(client, f"{url}dispatch/", {"plan_version": crewed["plan_version"]})
    assert dispatched.status_code == 200, dispatched.content
    late = patch(client, url, {"vehicle": None, "plan_version": dispatched.json()["plan_version"]})
    assert "dispatched" in problem_of(late, 409)["detail"]
    assert route_row(route["id"]).vehicle_id == van.pk


def test_a_crew_change_refuses_what_a_new_route_would(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = token_client()
    busy = route_new(client, tenant_a, offset=4)  # its own van and driver, that day
    route = route_new(client, tenant_a, vehicle=False, offset=4)
    url = f"{ROUTES}{route['id']}/"
    for body, fields in (
        ({"vehicle": busy["vehicle"], "plan_version": 0}, {"vehicle"}),
        ({"driver": busy["driver"], "plan_version": 0}, {"driver"}),
        ({"vehicle": tenant_b.vehicle.pk, "plan_version": 0}, {"vehicle"}),
        ({"driver": tenant_b.driver.pk, "plan_version": 0}, {"driver"}),
        ({"vehicle": 2**62, "plan_version": 0}, {"vehicle"}),
        ({"vehicle": busy["vehicle"]}, {"plan_version"}),
        ({"vehicle": "x", "plan_version": 0}, {"vehicle"}),
        ({"hub": tenant_a.hub.pk, "plan_version": 0}, {"hub"}),
        ({"status": "dispatched", "plan_version": 0}, {"status"}),
    ):
        response = patch(client, url, body)
        assert response.status_code == 400, (body, response.content)
        assert problem_fields(response) == fields, body
        assert tenant_b.vehicle.plate not in response.content.decode()
    stale = problem_of(patch(client, url, {"vehicle": None, "plan_version": 7}), 409)
    assert stale["plan_version"] == 0
    row = route_row(route["id"])
    assert (row.vehicle_id, row.driver_id, row.plan_version) == (None, None, 0)
    # A route may take its own vehicle back after giving it up, and the other route's once free.
    freed = patch(client, f"{ROUTES}{busy['id']}/", {"vehicle": None, "plan_version": 0})
    assert freed.status_code == 200
    taken = patch(client, url, {"vehicle": busy["vehicle"], "plan_version": 0})
    assert taken.status_code == 200 and taken.json()["vehicle"] == busy["vehicle"]


def test_a_whole_new_order_of_the_stops_in_one_change(tenant_a: Tenant) -> None:
    client = token_client()
    orders = orders_new(tenant_a, 3)
    route = stops_add(client, route_new(client, tenant_a), orders)
    url = f"{ROUTES}{route['id']}/stops/reorder/"
    a, b, c = (stop["id"] for stop in route["stops"])
    refs = [order.reference for order in orders]
    response = post(client, url, {"stops": [c, a, b], "plan_version": route["plan_version"]})
    assert response.status_code == 200, response.content
    reordered = response.json()
    assert plan_of(reordered) == list(enumerate([refs[2], refs[0], refs[1]], 1))
    assert reordered["plan_version"] == route["plan_version"] + 1
    same = post(client, url, {"stops": [c, a, b], "plan_version": reordered["plan_version"]})
    assert same.status_code == 200 and same.json()["plan_version"] == reordered["plan_version"]
    # Based on the version before the reorder: someone changed the plan since.
    stale = problem_of(post(client, url, {"stops": [a, b, c], "plan_version": 3}), 409)
    assert stale["plan_version"] == reordered["plan_version"]
    assert plan_of(client.get(f"{ROUTES}{route['id']}/").json()) == plan_of(reordered)


@pytest.mark.parametrize(
    "pick",
    [
        pytest.param(lambda a, b, c, other: [a, b], id="one-missing"),
        pytest.param(lambda a, b, c, other: [a, b, c, other], id="one-too-many"),
        pytest.param(lambda a, b, c, other: [a, a, b], id="one-twice"),
        pytest.param(lambda a, b, c, other: [a, b, c, c], id="all-and-one-twice"),
        pytest.param(lambda a, b, c, other: [a, b, other], id="another-routes-stop"),
        pytest.param(lambda a, b, c, other: [], id="none"),
    ],
)
def test_a_list_that_is_not_exactly_the_routes_stops_is_422(tenant_a: Tenant, pick: Any) -> None:
    client = token_client()
    route = stops_add(client, route_new(client, tenant_a), orders_new(tenant_a, 3))
    a, b, c = (stop["id"] for stop in route["stops"])
    other = tenant_a.delivery_objects[Stop].pk  # a stop of the tenant's other route
    body = {"stops": pick(a, b, c, other), "plan_version": route["plan_version"]}
    refused = problem_of(post(client, f"{ROUTES}{route['id']}/stops/reorder/", body), 422)
    assert refused["type"].endswith("/unprocessable")
    assert refused["title"] == "The request does not fit the resource as it is now."
    assert refused["stop_ids"] == [a, b, c]
    after = client.get(f"{ROUTES}{route['id']}/").json()
    assert after["plan_version"] == route["plan_version"] and plan_of(after) == plan_of(route)


def test_reorder_refuses_a_bad_body_by_name(tenant_a: Tenant) -> None:
    client = token_client()
    route = stops_add(client, route_new(client, tenant_a), orders_new(tenant_a, 1))
    url = f"{ROUTES}{route['id']}/stops/reorder/"
    stop = route["stops"][0]["id"]
    for body, fields in (
        ({"stops": [stop]}, {"plan_version"}),
        ({"plan_version": 1}, {"stops"}),
        ({"stops": "1,2", "plan_version": 1}, {"stops"}),
        ({"stops": [0, "x"], "plan_version": 1}, {"stops"}),
        ({"stops": list(range(1, 1002)), "plan_version": 1}, {"stops"}),
        ({"stops": [stop], "plan_version": 1, "order": stop}, {"order"}),
    ):
        assert problem_fields(post(client, url, body)) == fields, body
    problem_of(
        post(client, f"{ROUTES}{2**62}/stops/reorder/", {"stops": [], "plan_version": 0}), 404
    )


def test_a_visited_stop_neither_moves_nor_goes(tenant_a: Tenant) -> None:
    from deliveries.services.routes import stop_arrive
    from tenancy.context import tenant_context

    client = token_client()
    route = stops_add(client, route_new(client, tenant_a), orders_new(tenant_a, 2))
    route = post(
        client, f"{ROUTES}{route['id']}/dispatch/", {"plan_version": route["plan_version"]}
    ).json()
    visited, other = route["stops"][0]["id"], route["stops"][1]["id"]
    with tenant_context(tenant_a.organization.pk):
        stop_arrive(organization_id=tenant_a.organization.pk, stop_id=visited, source="driver")
    version = route_row(route["id"]).plan_version
    moved = post(
        client,
        f"{ROUTES}{route['id']}/stops/{other}/move/",
        {"sequence": 1, "plan_version": version},
    )
    assert problem_of(moved, 400)["errors"][0]["pointer"] == ""  # the request as a whole
    reordered = post(
        client,
        f"{ROUTES}{route['id']}/stops/reorder/",
        {"stops": [other, visited], "plan_version": version},
    )
    assert problem_fields(reordered) == {"stops"}
    problem_of(
        post(client, f"{ROUTES}{route['id']}/stops/{visited}/remove/", {"plan_version": version}),
        409,
    )
    assert [s["id"] for s in client.get(f"{ROUTES}{route['id']}/").json()["stops"]] == [
        visited,
        other,
    ]


def test_removing_a_stop_closes_the_gap_and_unassigns_its_order(tenant_a: Tenant) -> None:
    client = token_client()
    orders = orders_new(tenant_a, 3)
    route = stops_add(client, route_new(client, tenant_a), orders)
    middle = route["stops"][1]["id"]
    response = post(
        client,
        f"{ROUTES}{route['id']}/stops/{middle}/remove/",
        {"plan_version": route["plan_version"]},
    )
    assert response.status_code == 200
    assert plan_of(response.json()) == [(1, orders[0].reference), (2, orders[2].reference)]
    assert status_of(orders[1]) == "created"
    again = post(
        client,
        f"{ROUTES}{route['id']}/stops/{middle}/remove/",
        {"plan_version": response.json()["plan_version"]},
    )
    problem_of(again, 404)


def test_dispatch_without_a_vehicle_is_400_and_with_one_sends_the_orders_out(
    tenant_a: Tenant,
) -> None:
    client = token_client()
    bare = stops_add(client, route_new(client, tenant_a, vehicle=False), orders_new(tenant_a, 1))
    refused = post(
        client, f"{ROUTES}{bare['id']}/dispatch/", {"plan_version": bare["plan_version"]}
    )
    body = problem_of(refused, 400)
    assert "vehicle" in body["detail"] and body["errors"][0]["pointer"] == ""
    assert route_row(bare["id"]).status == "planned"
    empty = route_new(client, tenant_a, offset=2)
    problem_of(post(client, f"{ROUTES}{empty['id']}/dispatch/", {"plan_version": 0}), 400)
    orders = orders_new(tenant_a, 2)
    route = stops_add(client, route_new(client, tenant_a, offset=3), orders)
    sent = post(client, f"{ROUTES}{route['id']}/dispatch/", {"plan_version": route["plan_version"]})
    assert sent.status_code == 200
    assert sent.json()["status"] == "dispatched" and sent.json()["dispatched_at"]
    assert [status_of(order) for order in orders] == ["out_for_delivery"] * 2
    twice = post(
        client, f"{ROUTES}{route['id']}/dispatch/", {"plan_version": sent.json()["plan_version"]}
    )
    problem_of(twice, 409)
    # A stop added to a dispatched route goes out for delivery at once.
    late_order = orders_new(tenant_a, 1)[0]
    stops_add(client, sent.json(), [late_order])
    assert status_of(late_order) == "out_for_delivery"


# --- who may ---------------------------------------------------------------------------------


def test_writes_need_the_orders_scope_and_reads_any(tenant_a: Tenant) -> None:
    route = route_new(token_client(), tenant_a)
    order = orders_new(tenant_a, 1)[0]
    stop = tenant_a.delivery_objects[Stop]
    today_route = tenant_a.delivery_objects[Route]
    writes = [
        (ROUTES, {"hub": tenant_a.hub.pk, "date": day(5).isoformat()}),
        (f"{ROUTES}{route['id']}/stops/", {"order": order.pk, "plan_version": 0}),
        (f"{ROUTES}{today_route.pk}/stops/{stop.pk}/move/", {"sequence": 1, "plan_version": 0}),
        (f"{ROUTES}{today_route.pk}/stops/{stop.pk}/remove/", {"plan_version": 0}),
        (f"{ROUTES}{today_route.pk}/dispatch/", {"plan_version": 0}),
        (f"{ROUTES}{today_route.pk}/stops/reorder/", {"stops": [stop.pk], "plan_version": 0}),
    ]
    for scopes in (["read"], ["tracking"]):
        client = scoped_client(tenant_a, scopes)
        assert client.get(ROUTES).status_code == 200
        assert client.get(f"{ROUTES}{route['id']}/").status_code == 200
        for url, body in writes:
            refused = post(client, url, body)
            assert "orders" in problem_of(refused, 403)["detail"], url
        crew = patch(client, f"{ROUTES}{route['id']}/", {"vehicle": None, "plan_version": 0})
        assert "orders" in problem_of(crew, 403)["detail"]
    assert route_row(route["id"]).plan_version == 0
    assert route_row(today_route.pk).status == "planned"
    for scopes in (["orders"], ["admin"]):
        client = scoped_client(tenant_a, scopes)
        assert post(client, *writes[0]).status_code == 201
        writes[0] = (ROUTES, {"hub": tenant_a.hub.pk, "date": day(6).isoformat()})


def test_console_roles_plan_and_others_may_not(tenant_a: Tenant) -> None:
    route = tenant_a.delivery_objects[Route]
    url = f"{ROUTES}{route.pk}/stops/{tenant_a.delivery_objects[Stop].pk}/remove/"
    assert login(tenant_a.users[Role.DRIVER]).get(ROUTES).status_code == 403
    assert post(login(tenant_a.users[Role.DRIVER]), url, {"plan_version": 0}).status_code == 403
    dispatcher = login(tenant_a.users[Role.DISPATCHER])
    assert dispatcher.get(f"{ROUTES}{route.pk}/").status_code == 200
    removed = post(dispatcher, url, {"plan_version": 0})
    assert removed.status_code == 200 and removed.json()["stops"] == []
    assert tenant_a.order is not None
    added = post(
        dispatcher,
        f"{ROUTES}{route.pk}/stops/",
        {"order": tenant_a.order.pk, "plan_version": removed.json()["plan_version"]},
    )
    assert added.status_code == 201
    with scopes_disabled():
        event = DeliveryEvent.objects.filter(order=tenant_a.order).latest("id")
    assert event.source == DeliveryEvent.Source.CONSOLE


def test_a_support_member_reads_routes_but_may_not_change_them(tenant_a: Tenant) -> None:
    """As in the console's route editor: support answers "where is my order?", it does not
    plan. Every write is a 403 and the plan stays as it was."""
    route = tenant_a.delivery_objects[Route]
    stop = tenant_a.delivery_objects[Stop]
    support = login(tenant_a.users[Role.SUPPORT])
    assert support.get(f"{ROUTES}{route.pk}/").status_code == 200
    writes = [
        (ROUTES, {"hub": tenant_a.hub.pk, "date": day(7).isoformat()}),
        (f"{ROUTES}{route.pk}/stops/{stop.pk}/move/", {"sequence": 1, "plan_version": 0}),
        (f"{ROUTES}{route.pk}/stops/{stop.pk}/remove/", {"plan_version": 0}),
        (f"{ROUTES}{route.pk}/dispatch/", {"plan_version": 0}),
        (f"{ROUTES}{route.pk}/stops/reorder/", {"stops": [stop.pk], "plan_version": 0}),
    ]
    for url, body in writes:
        assert "dispatcher" in problem_of(post(support, url, body), 403)["detail"], url
    crew = patch(support, f"{ROUTES}{route.pk}/", {"vehicle": None, "plan_version": 0})
    assert "dispatcher" in problem_of(crew, 403)["detail"]
    after = route_row(route.pk)
    assert (after.plan_version, after.status) == (0, "planned")
    with scopes_disabled():
        assert Route.objects.filter(organization=tenant_a.organization).count() == 1


def test_a_hub_scoped_member_sees_only_their_hubs_routes(tenant_a: Tenant) -> None:
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Elsewhere Depot")
    with scopes_disabled():
        tenant_a.users[Role.DISPATCHER].memberships.get().hubs.set([other_hub])
    client = login(tenant_a.users[Role.DISPATCHER])
    route = tenant_a.delivery_objects[Route]
    assert client.get(ROUTES).json()["results"] == []
    problem_of(client.get(f"{ROUTES}{route.pk}/"), 404)
    problem_of(post(client, f"{ROUTES}{route.pk}/dispatch/", {"plan_version": 0}), 404)
    refused = post(client, ROUTES, {"hub": tenant_a.hub.pk, "date": day().isoformat()})
    assert problem_fields(refused) == {"hub"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_of_one_plan_version_apply_once(tenant_a: Tenant) -> None:
    """Two integrations add a stop to the same plan at the same time: the route row's lock
    and the version check let one through; the other gets the 409 with the new version."""
    import threading

    from django.db import connection

    route = route_new(token_client(), tenant_a)
    orders = orders_new(tenant_a, 2)
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def add(order: Order) -> None:
        try:
            barrier.wait()
            body = {"order": order.pk, "plan_version": route["plan_version"]}
            answers.append(post(token_client(), f"{ROUTES}{route['id']}/stops/", body))
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answer.status_code for answer in answers) == [201, 409]
    refused = next(answer for answer in answers if answer.status_code == 409)
    assert problem_of(refused)["plan_version"] == 1
    after = token_client().get(f"{ROUTES}{route['id']}/").json()
    assert after["plan_version"] == 1 and [s["sequence"] for s in after["stops"]] == [1]
    assert sorted(status_of(order) for order in orders) == ["assigned", "created"]


def test_every_route_change_is_a_route_changed_event(tenant_a: Tenant) -> None:
    """The event feed's `route.changed`: created, each plan change (crew, add, reorder,
    remove, dispatch) with its new plan_version and stop order; a refused change emits none."""
    from deliveries.outbox import ROUTE_CHANGED
    from tenancy.outbox.models import OutboxEvent

    def changes() -> list[dict[str, Any]]:
        with scopes_disabled():
            events = OutboxEvent.objects.filter(
                organization=tenant_a.organization, kind=ROUTE_CHANGED
            ).order_by("id")
            return [event.payload["route"] for event in events]

    client = token_client()
    route = route_new(client, tenant_a, vehicle=False)
    van = VehicleFactory.create(organization=tenant_a.organization, hub=tenant_a.hub)
    route = patch(
        client,
        f"{ROUTES}{route['id']}/",
        {"vehicle": van.pk, "driver": van.driver_id, "plan_version": 0},
    ).json()
    route = stops_add(client, route, orders_new(tenant_a, 2))
    a, b = (stop["id"] for stop in route["stops"])
    route = post(
        client,
        f"{ROUTES}{route['id']}/stops/reorder/",
        {"stops": [b, a], "plan_version": route["plan_version"]},
    ).json()
    stale = post(client, f"{ROUTES}{route['id']}/dispatch/", {"plan_version": 1})
    assert stale.status_code == 409
    route = post(
        client, f"{ROUTES}{route['id']}/dispatch/", {"plan_version": route["plan_version"]}
    ).json()
    seen = [(c["plan_version"], c["status"], c["stop_ids"]) for c in changes()]
    assert seen[-6:] == [
        (0, "planned", []),
        (1, "planned", []),
        (2, "planned", [a]),
        (3, "planned", [a, b]),
        (4, "planned", [b, a]),
        (5, "dispatched", [b, a]),
    ]
    assert changes()[-1]["vehicle_id"] == van.pk and changes()[-1]["id"] == route["id"]


def test_the_schema_documents_the_route_writes() -> None:
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    reorder = schema["paths"]["/api/v1/routes/{route_id}/stops/reorder/"]["post"]
    assert {"200", "400", "404", "409", "422"} <= set(reorder["responses"])
    assert "stop_ids" in reorder["responses"]["422"]["description"]
    crew = schema["paths"]["/api/v1/routes/{route_id}/"]["patch"]
    assert {"200", "400", "404", "409", "415"} <= set(crew["responses"])
    assert "Token scope: `orders`" in crew["description"]
    crew_body = schema["components"]["schemas"]["RouteUpdateInput"]
    assert set(crew_body["properties"]) == {"vehicle", "driver", "plan_version"}
    assert crew_body["required"] == ["plan_version"]
    assert crew["requestBody"]["required"] is True
    assert crew_body["properties"]["vehicle"]["nullable"] is True
    assert "Console roles: admin, manager, dispatcher" in reorder["description"]
    body = schema["components"]["schemas"]["StopsReorderInput"]
    assert set(body["required"]) == {"stops", "plan_version"}
    assert body["properties"]["stops"]["maxItems"] == 1000
    assert body["additionalProperties"] is False
