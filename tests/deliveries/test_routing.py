"""Route planning services and the route console: validation, state machine, tenancy, htmx."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from deliveries.models import DeliveryEvent, Order, OrderStatus, Route, Stop
from deliveries.services.routes import (
    RouteConflict,
    RouteStopsMismatch,
    route_create,
    route_dispatch,
    stop_add,
    stop_arrive,
    stop_depart,
    stop_move,
    stop_remove,
    stops_reorder,
)
from tenancy.context import tenant_context
from tenancy.models import Role
from tests.conftest import Tenant
from tests.deliveries.builders import order_build
from tests.factories import HubFactory, VehicleFactory
from tests.support.etas import on_commit_run

S = OrderStatus


def new_route(tenant: Tenant, *, orders: int = 3, date: dt.date | None = None) -> Route:
    """A fresh route of the tenant's hub with `orders` new stops (its own vehicle)."""
    vehicle = VehicleFactory.create(organization=tenant.organization, hub=tenant.hub)
    with tenant_context(tenant.organization.pk):
        route = route_create(
            organization_id=tenant.organization.pk,
            hub_id=tenant.hub.pk,
            date=date or timezone.localdate() + dt.timedelta(days=1),
            vehicle_id=vehicle.pk,
            driver_id=vehicle.driver_id,
        )
    for number in range(orders):
        order = order_build(
            tenant.organization, tenant.hub, reference=f"R{route.pk}-{number}",
            latitude=tenant.hub.latitude + 0.001 * (number + 1),
        )  # fmt: skip
        with tenant_context(tenant.organization.pk):
            stop_add(organization_id=tenant.organization.pk, route_id=route.pk, order_id=order.pk)
    return route


def plan(route: Route) -> list[tuple[int, str]]:
    with scopes_disabled():
        return list(
            Stop.objects.filter(route=route)
            .order_by("sequence")
            .values_list("sequence", "order__reference")
        )


def fresh(route: Route) -> Route:
    with scopes_disabled():
        return Route.objects.get(pk=route.pk)


def status_of(order: Order) -> str:
    with scopes_disabled():
        return Order.objects.get(pk=order.pk).status


# -- services --------------------------------------------------------------------------------------


def test_adding_stops_assigns_orders_and_bumps_the_plan(tenant_a: Tenant) -> None:
    route = new_route(tenant_a, orders=2)
    assert [seq for seq, _ in plan(route)] == [1, 2]
    assert fresh(route).plan_version == 2
    with scopes_disabled():
        orders = [stop.order for stop in Stop.objects.filter(route=route)]
        events = DeliveryEvent.objects.filter(order__in=orders, to_status=S.ASSIGNED)
        assert events.count() == 2
    assert {status_of(order) for order in orders} == {S.ASSIGNED}


def test_stop_add_refuses_what_cannot_go(tenant_a: Tenant, tenant_b: Tenant) -> None:
    org = tenant_a.organization.pk
    route = new_route(tenant_a, orders=1)
    with pytest.raises(Order.DoesNotExist), tenant_context(org):
        stop_add(
            organization_id=org, route_id=route.pk, order_id=tenant_b.delivery_objects[Order].pk
        )
    with pytest.raises(Route.DoesNotExist), tenant_context(org):
        stop_add(
            organization_id=org,
            route_id=tenant_b.delivery_objects[Route].pk,
            order_id=tenant_a.delivery_objects[Order].pk,
        )
    other_hub = HubFactory.create(organization=tenant_a.organization)
    elsewhere = order_build(tenant_a.organization, other_hub, reference="OTHER-HUB")
    with pytest.raises(ValidationError, match="another hub"), tenant_context(org):
        stop_add(organization_id=org, route_id=route.pk, order_id=elsewhere.pk)
    unlocated = order_build(
        tenant_a.organization, tenant_a.hub, reference="NOWHERE", latitude=None, longitude=None
    )
    with pytest.raises(ValidationError, match="no coordinates"), tenant_context(org):
        stop_add(organization_id=org, route_id=route.pk, order_id=unlocated.pk)
    with scopes_disabled():
        on_route = Stop.objects.filter(route=route).get().order_id
    with pytest.raises(ValidationError, match="already on a route"), tenant_context(org):
        stop_add(organization_id=org, route_id=route.pk, order_id=on_route)
    assert len(plan(route)) == 1 and fresh(route).plan_version == 1


def test_a_completed_route_cannot_change(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    route = new_route(tenant_a, orders=2)
    with scopes_disabled():
        Route.objects.filter(pk=route.pk).update(status=Route.Status.COMPLETED)
        stop_id = Stop.objects.filter(route=route)[0].pk
    order = order_build(tenant_a.organization, tenant_a.hub, reference="LATE-ADD")
    with tenant_context(org):
        for change in (
            lambda: stop_add(organization_id=org, route_id=route.pk, order_id=order.pk),
            lambda: stop_remove(organization_id=org, route_id=route.pk, stop_id=stop_id),
            lambda: stop_move(organization_id=org, route_id=route.pk, stop_id=stop_id, offset=1),
            lambda: route_dispatch(organization_id=org, route_id=route.pk),
        ):
            with pytest.raises(RouteConflict, match="completed"):
                change()
    assert status_of(order) == S.CREATED


def test_remove_and_reorder_keep_the_sequence_contiguous(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    route = new_route(tenant_a, orders=4)
    with scopes_disabled():
        ids = list(
            Stop.objects.filter(route=route).order_by("sequence").values_list("pk", flat=True)
        )
    with tenant_context(org):
        stop_remove(organization_id=org, route_id=route.pk, stop_id=ids[1])
    assert [seq for seq, _ in plan(route)] == [1, 2, 3]
    refs = [ref for _, ref in plan(route)]
    with tenant_context(org):
        stops_reorder(organization_id=org, route_id=route.pk, stop_ids=[ids[3], ids[0], ids[2]])
    assert plan(route) == [(1, refs[2]), (2, refs[0]), (3, refs[1])]
    with tenant_context(org):
        stop_move(organization_id=org, route_id=route.pk, stop_id=ids[2], offset=-1)
    assert [ref for _, ref in plan(route)] == [refs[2], refs[1], refs[0]]
    with pytest.raises(ValidationError, match="further"), tenant_context(org):
        stop_move(organization_id=org, route_id=route.pk, stop_id=ids[3], offset=-1)
    with pytest.raises(RouteStopsMismatch, match="exactly once"), tenant_context(org):
        stops_reorder(organization_id=org, route_id=route.pk, stop_ids=[ids[0], ids[0], ids[2]])
    with pytest.raises(RouteStopsMismatch, match="exactly once") as mismatch, tenant_context(org):
        stops_reorder(organization_id=org, route_id=route.pk, stop_ids=[ids[0], ids[2]])
    assert mismatch.value.extra == {"stop_ids": [ids[3], ids[2], ids[0]]}
    version = fresh(route).plan_version
    with pytest.raises(RouteConflict, match="changed meanwhile"), tenant_context(org):
        stops_reorder(
            organization_id=org, route_id=route.pk, stop_ids=[ids[0], ids[2], ids[3]],
            plan_version=version - 1,
        )  # fmt: skip
    assert [ref for _, ref in plan(route)] == [refs[2], refs[1], refs[0]]


def test_dispatch_sends_the_orders_out_and_later_stops_follow(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    route = new_route(tenant_a, orders=2)
    with tenant_context(org):
        route_dispatch(organization_id=org, route_id=route.pk)
    route = fresh(route)
    assert route.status == Route.Status.DISPATCHED and route.dispatched_at is not None
    with scopes_disabled():
        orders = [s.order for s in Stop.objects.filter(route=route)]
    assert {status_of(o) for o in orders} == {S.OUT_FOR_DELIVERY}
    with pytest.raises(RouteConflict, match="already dispatched"), tenant_context(org):
        route_dispatch(organization_id=org, route_id=route.pk)
    # Changed mid-day: a stop added now goes straight out for delivery.
    extra = order_build(tenant_a.organization, tenant_a.hub, reference="MID-DAY")
    with tenant_context(org):
        stop_add(organization_id=org, route_id=route.pk, order_id=extra.pk)
    assert status_of(extra) == S.OUT_FOR_DELIVERY
    with scopes_disabled():
        steps = list(
            DeliveryEvent.objects.filter(order=extra)
            .order_by("pk")
            .values_list("to_status", flat=True)
        )
    assert steps == [S.CREATED, S.ASSIGNED, S.OUT_FOR_DELIVERY]


def test_dispatch_needs_stops_and_a_vehicle(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    empty = new_route(tenant_a, orders=0)
    with pytest.raises(ValidationError, match="without stops"), tenant_context(org):
        route_dispatch(organization_id=org, route_id=empty.pk)
    with tenant_context(org):
        bare = route_create(organization_id=org, hub_id=tenant_a.hub.pk, date=timezone.localdate())
    with pytest.raises(ValidationError, match="vehicle and a driver"), tenant_context(org):
        route_dispatch(organization_id=org, route_id=bare.pk)
    assert fresh(empty).status == fresh(bare).status == Route.Status.PLANNED


def test_route_create_validates_its_ids(tenant_a: Tenant, tenant_b: Tenant) -> None:
    org, day = tenant_a.organization.pk, timezone.localdate()
    with pytest.raises(ValidationError, match="hub"), tenant_context(org):
        route_create(organization_id=org, hub_id=tenant_b.hub.pk, date=day)
    with pytest.raises(ValidationError, match="vehicle"), tenant_context(org):
        route_create(
            organization_id=org,
            hub_id=tenant_a.hub.pk,
            date=day,
            vehicle_id=tenant_b.vehicle.pk,
        )
    with pytest.raises(ValidationError, match="driver"), tenant_context(org):
        route_create(
            organization_id=org, hub_id=tenant_a.hub.pk, date=day, driver_id=tenant_b.driver.pk
        )
    # tenant_a's own vehicle already has today's route (tests/deliveries/builders.py).
    with pytest.raises(ValidationError, match="already has a route"), tenant_context(org):
        route_create(
            organization_id=org,
            hub_id=tenant_a.hub.pk,
            date=day,
            vehicle_id=tenant_a.vehicle.pk,
        )


def test_a_removed_stop_unassigns_its_order_so_it_can_be_planned_again(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    dispatcher = tenant_a.users[Role.DISPATCHER]
    route = new_route(tenant_a, orders=2)
    with scopes_disabled():
        first, second = (
            Stop.objects.filter(route=route).select_related("order").order_by("sequence")
        )
    with tenant_context(org):
        stop_remove(organization_id=org, route_id=route.pk, stop_id=first.pk, actor=dispatcher)
    assert status_of(first.order) == S.CREATED
    with scopes_disabled():
        event = DeliveryEvent.objects.filter(order=first.order).latest("pk")
    assert (event.from_status, event.to_status, event.actor) == (S.ASSIGNED, S.CREATED, dispatcher)
    assert [ref for _, ref in plan(route)] == [second.order.reference]

    # Another route takes it like any new order; once that route is dispatched, removing the
    # stop takes the order off the road too: out for delivery -> created.
    other = new_route(tenant_a, orders=0, date=timezone.localdate() + dt.timedelta(days=2))
    with tenant_context(org):
        stop = stop_add(organization_id=org, route_id=other.pk, order_id=first.order_id)
    with tenant_context(org):
        route_dispatch(organization_id=org, route_id=other.pk)
    assert status_of(first.order) == S.OUT_FOR_DELIVERY
    with tenant_context(org):
        stop_remove(organization_id=org, route_id=other.pk, stop_id=stop.pk)
    assert status_of(first.order) == S.CREATED
    with scopes_disabled():
        event = DeliveryEvent.objects.filter(order=first.order).latest("pk")
    assert (event.from_status, event.source, event.actor) == (
        S.OUT_FOR_DELIVERY, DeliveryEvent.Source.SYSTEM, None,
    )  # fmt: skip


def test_visits_move_the_route_and_visited_stops_stay_put(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    route = new_route(tenant_a, orders=2)
    with scopes_disabled():
        first, second = Stop.objects.filter(route=route).order_by("sequence")
    with pytest.raises(RouteConflict, match="Dispatch"), tenant_context(org):
        stop_arrive(organization_id=org, stop_id=first.pk, source=DeliveryEvent.Source.DRIVER)
    with tenant_context(org):
        route_dispatch(organization_id=org, route_id=route.pk)
    with tenant_context(org):
        stop_arrive(organization_id=org, stop_id=first.pk, source=DeliveryEvent.Source.DRIVER)
    assert fresh(route).status == Route.Status.IN_PROGRESS
    with pytest.raises(RouteConflict, match="already been"), tenant_context(org):
        stop_remove(organization_id=org, route_id=route.pk, stop_id=first.pk)
    with pytest.raises(ValidationError, match="visited cannot move"), tenant_context(org):
        stops_reorder(organization_id=org, route_id=route.pk, stop_ids=[second.pk, first.pk])
    with tenant_context(org):
        stop_depart(
            organization_id=org, stop_id=first.pk, to_status=S.DELIVERED,
            source=DeliveryEvent.Source.DRIVER,
        )  # fmt: skip
    with tenant_context(org):
        stop_arrive(organization_id=org, stop_id=second.pk, source=DeliveryEvent.Source.DRIVER)
    with tenant_context(org):
        stop_depart(
            organization_id=org, stop_id=second.pk, to_status=S.FAILED, reason_code="not_home",
            source=DeliveryEvent.Source.DRIVER,
        )  # fmt: skip
    assert fresh(route).status == Route.Status.COMPLETED
    assert status_of(first.order) == S.DELIVERED and status_of(second.order) == S.FAILED


def test_the_route_list_counts_a_failed_stop_as_done(tenant_a: Tenant) -> None:
    # A failed attempt closes its stop (STOP_DONE_STATUSES), though a failed order is not final.
    from deliveries.selectors.routes import route_list

    org = tenant_a.organization.pk
    route = new_route(tenant_a, orders=2)
    with scopes_disabled():
        first = Stop.objects.filter(route=route).order_by("sequence").first()
        Stop.objects.filter(route=route).update(late_risk=True)
    assert first is not None
    with tenant_context(org):
        route_dispatch(organization_id=org, route_id=route.pk)
        stop_arrive(organization_id=org, stop_id=first.pk, source=DeliveryEvent.Source.DRIVER)
        stop_depart(
            organization_id=org, stop_id=first.pk, to_status=S.FAILED, reason_code="not_home",
            source=DeliveryEvent.Source.DRIVER,
        )  # fmt: skip
        listed = route_list(organization_id=org, date=route.date).get(pk=route.pk)
    counts = tuple(getattr(listed, name) for name in ("stop_count", "done_count", "late_count"))
    assert counts == (2, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_reorders_of_the_same_plan_apply_once(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    route = new_route(tenant_a, orders=3)
    version = fresh(route).plan_version
    with scopes_disabled():
        ids = list(
            Stop.objects.filter(route=route).order_by("sequence").values_list("pk", flat=True)
        )
    wanted = [list(reversed(ids)), [ids[1], ids[0], ids[2]]]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def reorder(stop_ids: list[int]) -> None:
        try:
            barrier.wait()
            with tenant_context(org):
                stops_reorder(
                    organization_id=org, route_id=route.pk, stop_ids=stop_ids, plan_version=version
                )
            outcomes.append("ok")
        except RouteConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=reorder, args=(order,)) for order in wanted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert fresh(route).plan_version == version + 1
    with scopes_disabled():
        final = list(
            Stop.objects.filter(route=route).order_by("sequence").values_list("sequence", "pk")
        )
    assert [seq for seq, _ in final] == [1, 2, 3]
    assert [pk for _, pk in final] in wanted


# -- console ---------------------------------------------------------------------------------------


def test_route_list_shows_the_days_routes_by_hub(
    tenant_a: Tenant, tenant_b: Tenant, client_for: Any
) -> None:
    today_route = tenant_a.delivery_objects[Route]
    with scopes_disabled():
        Stop.objects.filter(route=today_route).update(late_risk=True)
    response = client_for(tenant_a, Role.DISPATCHER).get(reverse("deliveries:route_list"))
    assert response.status_code == 200
    page = response.content.decode()
    assert tenant_a.hub.name in page and tenant_a.vehicle.plate in page
    assert "1 late risk" in page and "0/1 stops" in page
    assert tenant_b.vehicle.plate not in page
    other_day = client_for(tenant_a, Role.MANAGER).get(
        reverse("deliveries:route_list"), {"date": "2001-01-01"}
    )
    assert 'data-testid="hub-routes"' not in other_day.content.decode()
    assert "No routes on" in other_day.content.decode()
    bad = client_for(tenant_a, Role.DISPATCHER).get(
        reverse("deliveries:route_list"), {"date": "soon"}
    )
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.content.decode()
    for role in (Role.SUPPORT, Role.DRIVER):
        assert client_for(tenant_a, role).get(reverse("deliveries:route_list")).status_code == 403


def test_hub_scoped_dispatcher_sees_only_their_hubs_routes(
    tenant_a: Tenant, client_for: Any
) -> None:
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Elsewhere Depot")
    with scopes_disabled():
        tenant_a.users[Role.DISPATCHER].memberships.get().hubs.set([other_hub])
    client = client_for(tenant_a, Role.DISPATCHER)
    page = client.get(reverse("deliveries:route_list")).content.decode()
    assert 'data-testid="hub-routes"' not in page and tenant_a.hub.name not in page
    route = tenant_a.delivery_objects[Route]
    assert client.get(reverse("deliveries:route_detail", args=[route.pk])).status_code == 404


def test_the_editor_adds_moves_removes_and_dispatches_over_htmx(
    tenant_a: Tenant, client_for: Any
) -> None:
    route = new_route(tenant_a, orders=2)
    client = client_for(tenant_a, Role.DISPATCHER)
    htmx = {"HTTP_HX_REQUEST": "true"}
    extra = order_build(tenant_a.organization, tenant_a.hub, reference="ADD-ME")
    detail = client.get(reverse("deliveries:route_detail", args=[route.pk]))
    assert detail.status_code == 200 and 'id="route-map"' in detail.content.decode()
    assert f'value="{extra.pk}"' in detail.content.decode()  # offered in the add form

    added = client.post(
        reverse("deliveries:route_stop_add", args=[route.pk]),
        {"order_id": extra.pk, "plan_version": fresh(route).plan_version}, **htmx,
    )  # fmt: skip
    assert added.status_code == 200
    assert "<html" not in added.content.decode() and "ADD-ME" in added.content.decode()
    assert [ref for _, ref in plan(route)][-1] == "ADD-ME"
    with scopes_disabled():
        added_stop = Stop.objects.get(route=route, order=extra)
    moved = client.post(
        reverse("deliveries:route_stop_move", args=[route.pk, added_stop.pk]),
        {"direction": "up", "plan_version": fresh(route).plan_version}, **htmx,
    )  # fmt: skip
    assert moved.status_code == 200 and [ref for _, ref in plan(route)][1] == "ADD-ME"
    stale = client.post(
        reverse("deliveries:route_stop_move", args=[route.pk, added_stop.pk]),
        {"direction": "up", "plan_version": 1}, **htmx,
    )  # fmt: skip
    assert stale.status_code == 409 and "changed meanwhile" in stale.content.decode()
    wrong = client.post(
        reverse("deliveries:route_stop_move", args=[route.pk, added_stop.pk]),
        {"direction": "sideways"}, **htmx,
    )  # fmt: skip
    assert wrong.status_code == 400 and "up or down" in wrong.content.decode()
    removed = client.post(
        reverse("deliveries:route_stop_remove", args=[route.pk, added_stop.pk]), **htmx
    )
    assert removed.status_code == 200 and "ADD-ME" not in [ref for _, ref in plan(route)]
    assert status_of(extra) == S.CREATED  # unassigned, by the dispatcher who clicked
    with scopes_disabled():
        unassigned = DeliveryEvent.objects.filter(order=extra).latest("pk")
        assert unassigned.from_status == S.ASSIGNED and unassigned.actor is not None
        assert unassigned.source == DeliveryEvent.Source.CONSOLE
    dispatched = client.post(reverse("deliveries:route_dispatch", args=[route.pk]), **htmx)
    assert dispatched.status_code == 200 and fresh(route).status == Route.Status.DISPATCHED
    again = client.post(reverse("deliveries:route_dispatch", args=[route.pk]), **htmx)
    assert again.status_code == 409 and "already dispatched" in again.content.decode()
    # Without htmx: the same change, then back to the page.
    plain = client.post(
        reverse("deliveries:route_stop_add", args=[route.pk]), {"order_id": extra.pk}
    )
    assert plain.status_code == 302 and plain["Location"] == reverse(
        "deliveries:route_detail", args=[route.pk]
    )


def test_bad_editor_input_is_a_precise_4xx(tenant_a: Tenant, client_for: Any) -> None:
    route = new_route(tenant_a, orders=1)
    client = client_for(tenant_a, Role.DISPATCHER)
    url = reverse("deliveries:route_stop_add", args=[route.pk])
    other_hub = HubFactory.create(organization=tenant_a.organization)
    elsewhere = order_build(tenant_a.organization, other_hub, reference="OTHER-HUB")
    cases = [
        ({"order_id": "abc"}, 400, "whole number"),
        ({}, 400, "Missing order id"),
        ({"order_id": 999999}, 404, "No such order"),
        ({"order_id": elsewhere.pk}, 400, "another hub"),
    ]
    for data, status, message in cases:
        response = client.post(url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == status, data
        assert message in response.content.decode()
    with scopes_disabled():
        Route.objects.filter(pk=route.pk).update(status=Route.Status.COMPLETED)
    extra = order_build(tenant_a.organization, tenant_a.hub, reference="TOO-LATE")
    response = client.post(url, {"order_id": extra.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 409 and "completed" in response.content.decode()
    assert len(plan(route)) == 1 and status_of(extra) == S.CREATED


def test_route_actions_with_foreign_ids_are_404_and_change_nothing(
    tenant_a: Tenant, tenant_b: Tenant, client_for: Any
) -> None:
    foreign_route = tenant_b.delivery_objects[Route]
    foreign_stop = tenant_b.delivery_objects[Stop]
    own_route = new_route(tenant_a, orders=1)
    with scopes_disabled():
        own_stop = Stop.objects.get(route=own_route)
    client = client_for(tenant_a, Role.ADMIN)
    before_b = (plan(foreign_route), fresh(foreign_route).plan_version, fresh(foreign_route).status)
    before_a = (plan(own_route), fresh(own_route).plan_version)
    attempts = [
        (
            reverse("deliveries:route_stop_add", args=[foreign_route.pk]),
            {"order_id": tenant_a.delivery_objects[Order].pk},
        ),
        (
            reverse("deliveries:route_stop_add", args=[own_route.pk]),
            {"order_id": tenant_b.delivery_objects[Order].pk},
        ),
        (reverse("deliveries:route_stop_remove", args=[foreign_route.pk, foreign_stop.pk]), {}),
        (reverse("deliveries:route_stop_remove", args=[own_route.pk, foreign_stop.pk]), {}),
        (
            reverse("deliveries:route_stop_move", args=[foreign_route.pk, foreign_stop.pk]),
            {"direction": "down"},
        ),
        (
            reverse("deliveries:route_stop_move", args=[own_route.pk, foreign_stop.pk]),
            {"direction": "down"},
        ),
        (
            reverse("deliveries:route_stop_move", args=[foreign_route.pk, own_stop.pk]),
            {"direction": "down"},
        ),
        (reverse("deliveries:route_dispatch", args=[foreign_route.pk]), {}),
    ]
    for url, data in attempts:
        response = client.post(url, data)
        assert response.status_code == 404, url
        for marker in tenant_b.markers:
            assert marker not in response.content.decode(), (url, marker)
    created = client.post(reverse("deliveries:route_create"), {"hub": tenant_b.hub.pk})
    assert created.status_code == 302 and created["Location"] == reverse("deliveries:route_list")
    with scopes_disabled():
        assert not Route.objects.filter(hub=tenant_b.hub).exclude(pk=foreign_route.pk).exists()
    assert (
        plan(foreign_route),
        fresh(foreign_route).plan_version,
        fresh(foreign_route).status,
    ) == before_b
    assert (plan(own_route), fresh(own_route).plan_version) == before_a
    assert status_of(tenant_b.delivery_objects[Order]) == S.CREATED


def test_a_route_is_created_from_the_console(tenant_a: Tenant, client_for: Any) -> None:
    vehicle = VehicleFactory.create(organization=tenant_a.organization, hub=tenant_a.hub)
    client = client_for(tenant_a, Role.DISPATCHER)
    day = timezone.localdate() + dt.timedelta(days=2)
    response = client.post(
        reverse("deliveries:route_create"),
        {
            "hub": tenant_a.hub.pk,
            "vehicle": vehicle.pk,
            "driver": vehicle.driver_id,
            "date": day.isoformat(),
        },
    )
    with scope(organization=tenant_a.organization.pk):
        route = Route.objects.get(vehicle=vehicle)
    assert response.status_code == 302 and response["Location"] == reverse(
        "deliveries:route_detail", args=[route.pk]
    )
    assert route.date == day and route.status == Route.Status.PLANNED
    twice = client.post(
        reverse("deliveries:route_create"),
        {"hub": tenant_a.hub.pk, "vehicle": vehicle.pk, "date": day.isoformat()},
    )
    assert twice.status_code == 302
    assert "already has a route" in client.get(twice["Location"]).content.decode()


def test_the_editor_says_when_its_etas_are_catching_up_with_the_plan(
    tenant_a: Tenant, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    route = new_route(tenant_a, orders=2)
    client = client_for(tenant_a, Role.DISPATCHER)
    htmx = {"HTTP_HX_REQUEST": "true"}
    with scopes_disabled():
        first = (
            Stop.objects.filter(route=route).order_by("sequence").values_list("pk", flat=True)[0]
        )
    with django_capture_on_commit_callbacks() as callbacks:
        moved = client.post(
            reverse("deliveries:route_stop_move", args=[route.pk, first]),
            {"direction": "down", "plan_version": fresh(route).plan_version}, **htmx,
        )  # fmt: skip
    assert moved.status_code == 200
    version = fresh(route).plan_version
    # The refresh is the worker's: the answer says so and asks for the stops again shortly.
    assert f"Updating ETAs for plan v{version}" in moved.content.decode()
    assert 'hx-trigger="load delay:2s"' in moved.content.decode()
    assert on_commit_run(callbacks) == 1
    assert fresh(route).etas_plan_version == version
    again = client.get(reverse("deliveries:route_detail", args=[route.pk]), **htmx)
    assert "Updating ETAs" not in again.content.decode()
    assert "hx-trigger" not in again.content.decode()
