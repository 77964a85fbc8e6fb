"""Route writes: create a route, change its vehicle or driver, add, remove and reorder its
stops, dispatch it, and record the vehicle reaching and leaving a stop.

Every plan change locks the route row, checks the route may still change, bumps
`plan_version` (the driver app and the console compare it to know their copy is stale) and
has a worker refresh the ETAs once the change is committed. Orders follow the state machine
through `order_transition`: a stop added assigns its order, a removed one unassigns it, a dispatched
route sends its orders out. The visits (`route_start`, `stop_arrive`, `stop_depart`) serve the
driver app and the demo alike, and refresh the route's ETAs on commit too; an arrival and a
departure each emit their outbox event (`stop.arrived`, `stop.departed`) in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from fleet.models import Driver, Hub, Vehicle
from tenancy.context import require_organization
from tenancy.errors import Conflict, Unprocessable

from ..models import DeliveryEvent, Order, OrderStatus, Route, Stop
from ..outbox import STOP_ARRIVED, STOP_DEPARTED, route_changed_emit, stop_event_emit
from ..transitions import FINAL_STATUSES
from .eta import route_etas_refresh_on_commit
from .orders import order_open_stop, order_transition, owned_check

S = OrderStatus
Source = DeliveryEvent.Source
# Sequences are moved out of the way (past any real one) before being renumbered, because the
# (route, sequence) unique constraint is checked row by row inside one UPDATE.
_RESEQUENCE_OFFSET = 1_000_000


class RouteConflict(Conflict):
    """The route cannot change this way now (completed, or changed meanwhile)."""


class RouteStopsMismatch(Unprocessable):
    """A new order of the route's stops that does not name each of them exactly once; `extra`
    holds the route's stop ids in their order now."""


def _plan_source(actor: AbstractBaseUser | None) -> str:
    # A plan change is the dispatcher's in the console, or the system's (the demo, a solver);
    # the API names its own source.
    return Source.CONSOLE if actor else Source.SYSTEM


def _route_lock(organization_id: int, route_id: int, *, plan_version: int | None = None) -> Route:
    route = Route.objects.select_for_update().get(organization_id=organization_id, pk=route_id)
    if route.status == Route.Status.COMPLETED:
        raise RouteConflict("This route is completed; its plan can no longer change.")
    if plan_version is not None and plan_version != route.plan_version:
        raise RouteConflict(
            "The route changed meanwhile; reload it and try again.",
            extra={"plan_version": route.plan_version},
        )
    # Every writer of a route comes through here: its change time moves with it (and rolls
    # back with a refused change).
    route.updated_at = timezone.now()
    Route.objects.filter(pk=route.pk).update(updated_at=route.updated_at)
    return route


def _plan_changed(route: Route) -> None:
    Route.objects.filter(pk=route.pk).update(plan_version=F("plan_version") + 1)
    route.plan_version += 1
    route_changed_emit(route=route)
    _etas_refresh_on_commit(route)


def _etas_refresh_on_commit(route: Route) -> None:
    # In a worker, after commit: the request does not wait for the routing server.
    route_etas_refresh_on_commit(organization_id=route.organization_id, route_id=route.pk)


def _resequence(route: Route, stop_ids: Sequence[int]) -> None:
    """Number the route's stops 1..n in the order of `stop_ids`."""
    Stop.objects.filter(route=route).update(sequence=F("sequence") + _RESEQUENCE_OFFSET)
    stops = [Stop(pk=stop_id, sequence=number) for number, stop_id in enumerate(stop_ids, 1)]
    Stop.objects.bulk_update(stops, ["sequence"])


def _crew_check(
    organization_id: int,
    date: dt.date,
    *,
    vehicle_id: int | None,
    driver_id: int | None,
    route_id: int | None = None,
) -> None:
    """The vehicle and the driver are the organization's and have no other route that day.

    Inside the caller's transaction the vehicle's and the driver's rows are locked first, so
    two plans made at the same moment for one vehicle (two dispatchers, an integration's
    retries) are checked one after the other: the second sees the first's route and is
    refused, instead of both passing the check and the vehicle getting two routes that day."""
    others = Route.objects.filter(organization_id=organization_id, date=date).exclude(pk=route_id)
    if vehicle_id is not None:
        owned_check(Vehicle, organization_id=organization_id, pk=vehicle_id, field="vehicle")
        _lock(Vehicle, organization_id, vehicle_id)
        if others.filter(vehicle_id=vehicle_id).exists():
            raise ValidationError({"vehicle": "This vehicle already has a route that day."})
    if driver_id is not None:
        owned_check(Driver, organization_id=organization_id, pk=driver_id, field="driver")
        _lock(Driver, organization_id, driver_id)
        if others.filter(driver_id=driver_id).exists():
            raise ValidationError({"driver": "This driver already has a route that day."})


def _lock(model: type[Vehicle] | type[Driver], organization_id: int, pk: int) -> None:
    """Hold the row until the transaction ends (a crew check's turn for that vehicle or driver)."""
    list(
        model.objects.select_for_update()
        .filter(organization_id=organization_id, pk=pk)
        .values_list("pk", flat=True)
    )


def route_create(
    *,
    organization_id: int,
    hub_id: int,
    date: dt.date,
    vehicle_id: int | None = None,
    driver_id: int | None = None,
) -> Route:
    """A planned route of one vehicle and driver for one day at a hub."""
    require_organization(organization_id)
    with transaction.atomic():
        owned_check(Hub, organization_id=organization_id, pk=hub_id, field="hub")
        _crew_check(organization_id, date, vehicle_id=vehicle_id, driver_id=driver_id)
        route = Route.objects.create(
            organization_id=organization_id,
            hub_id=hub_id,
            date=date,
            vehicle_id=vehicle_id,
            driver_id=driver_id,
        )
        route_changed_emit(route=route)
    return route


# What route_crew_change may change: who drives the route, and in what.
ROUTE_CREW_FIELDS = ("vehicle", "driver")


def route_crew_change(
    *,
    organization_id: int,
    route_id: int,
    changes: dict[str, int | None],
    plan_version: int | None = None,
) -> Route:
    """Give a planned route another vehicle or driver (or none yet), with route_create's rules:
    the organization's, and no other route of theirs that day. A change is a plan change (the
    ETAs start from the new vehicle); the same crew again changes nothing.

    Raises RouteConflict for a route that is dispatched or further (its driver has it) or that
    changed since `plan_version`, ValidationError naming the field otherwise.
    """
    require_organization(organization_id)
    unknown = sorted(set(changes) - set(ROUTE_CREW_FIELDS))
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    with transaction.atomic():
        route = _route_lock(organization_id, route_id, plan_version=plan_version)
        if route.status != Route.Status.PLANNED:
            raise RouteConflict(
                f"This route is already {route.get_status_display().lower()}: its vehicle and "
                "driver no longer change."
            )
        changed = {
            f"{name}_id": value
            for name, value in changes.items()
            if getattr(route, f"{name}_id") != value
        }
        if not changed:
            return route
        _crew_check(
            organization_id,
            route.date,
            vehicle_id=changed.get("vehicle_id"),
            driver_id=changed.get("driver_id"),
            route_id=route.pk,
        )
        for field, value in changed.items():
            setattr(route, field, value)
        route.save(update_fields=list(changed))
        _plan_changed(route)
    return route


def _order_assign(
    route: Route, order: Order, actor: AbstractBaseUser | None, source: str | None = None
) -> None:
    """Move the order as far as the route has gone: assigned, and out for delivery once the
    route is dispatched. (An assigned order on no route, as removed stops left them before
    stop_remove unassigned, is taken as it is.)"""
    wanted = [S.ASSIGNED]
    if route.status != Route.Status.PLANNED:
        wanted.append(S.OUT_FOR_DELIVERY)
    status = order.status
    for to_status in wanted:
        if status in (S.CREATED, S.FAILED) or (status == S.ASSIGNED and to_status != S.ASSIGNED):
            order_transition(
                organization_id=route.organization_id,
                order_id=order.pk,
                to_status=to_status,
                actor=actor,
                source=source or _plan_source(actor),
            )
            status = to_status


def stop_add(
    *,
    organization_id: int,
    route_id: int,
    order_id: int,
    actor: AbstractBaseUser | None = None,
    plan_version: int | None = None,
    source: str | None = None,
) -> Stop:
    """Append the order to the route as its last stop and assign it.

    Raises Route/Order.DoesNotExist for ids of another organization, RouteConflict (409) for
    a completed or meanwhile-changed route, ValidationError for an order that cannot go.
    """
    require_organization(organization_id)
    with transaction.atomic():
        route = _route_lock(organization_id, route_id, plan_version=plan_version)
        order = Order.objects.select_for_update().get(organization_id=organization_id, pk=order_id)
        if order.hub_id != route.hub_id:
            raise ValidationError({"order": "This order belongs to another hub."})
        if order.needs_coordinates:
            raise ValidationError({"order": "This order has no coordinates yet."})
        if order.status not in (S.CREATED, S.FAILED, S.ASSIGNED):
            raise ValidationError(
                {"order": f"An order that is {order.get_status_display().lower()} cannot be added."}
            )
        open_stop = (
            Stop.objects.filter(order=order, actual_departure__isnull=True)
            .exclude(route__status=Route.Status.COMPLETED)
            .exists()
        )
        if open_stop:
            raise ValidationError({"order": "This order is already on a route."})
        _order_assign(route, order, actor, source)
        last = Stop.objects.filter(route=route).aggregate(last=Max("sequence"))["last"] or 0
        stop = Stop.objects.create(
            organization_id=organization_id, route=route, order=order, sequence=last + 1
        )
        _plan_changed(route)
    return stop


def stop_remove(
    *,
    organization_id: int,
    route_id: int,
    stop_id: int,
    actor: AbstractBaseUser | None = None,
    plan_version: int | None = None,
    source: str | None = None,
) -> None:
    """Take a not yet visited stop off the route; the others close the gap.

    Its order is unassigned (back to created, from assigned or, on a dispatched route, from out
    for delivery): it is on no route now and waits to be planned again.
    """
    require_organization(organization_id)
    with transaction.atomic():
        route = _route_lock(organization_id, route_id, plan_version=plan_version)
        stop = Stop.objects.select_related("order").get(pk=stop_id, route=route)
        if stop.actual_arrival is not None:
            raise RouteConflict("The vehicle has already been at this stop.")
        if stop.order.status in (S.ASSIGNED, S.OUT_FOR_DELIVERY):
            order_transition(
                organization_id=organization_id,
                order_id=stop.order_id,
                to_status=S.CREATED,
                actor=actor,
                source=source or _plan_source(actor),
            )
        stop.delete()
        _resequence(
            route,
            list(
                Stop.objects.filter(route=route).order_by("sequence").values_list("pk", flat=True)
            ),
        )
        _plan_changed(route)


def stops_reorder(
    *,
    organization_id: int,
    route_id: int,
    stop_ids: Sequence[int],
    plan_version: int | None = None,
) -> None:
    """Visit the route's stops in the order of `stop_ids` (all of them, each once: else
    RouteStopsMismatch). Stops already visited keep their places at the front."""
    require_organization(organization_id)
    with transaction.atomic():
        route = _route_lock(organization_id, route_id, plan_version=plan_version)
        current = list(Stop.objects.filter(route=route).order_by("sequence"))
        if sorted(stop_ids) != sorted(stop.pk for stop in current):
            raise RouteStopsMismatch(
                "Give every stop of this route exactly once.",
                extra={"stop_ids": [stop.pk for stop in current]},
            )
        visited = [stop.pk for stop in current if stop.actual_arrival is not None]
        if list(stop_ids[: len(visited)]) != visited:
            raise ValidationError({"stops": "Stops already visited cannot move."})
        if list(stop_ids) == [stop.pk for stop in current]:
            return
        _resequence(route, stop_ids)
        _plan_changed(route)


def _stop_places(organization_id: int, route_id: int, stop_id: int) -> tuple[list[int], int]:
    """The route's stop ids in their order, and the index of `stop_id` among them."""
    stop_ids = list(
        Stop.objects.filter(organization_id=organization_id, route_id=route_id)
        .order_by("sequence")
        .values_list("pk", flat=True)
    )
    if stop_id not in stop_ids:
        raise Stop.DoesNotExist("No such stop on this route.")
    return stop_ids, stop_ids.index(stop_id)


def _stop_put(
    organization_id: int,
    route_id: int,
    stop_ids: list[int],
    index: int,
    target: int,
    plan_version: int | None,
) -> None:
    # stops_reorder locks the route and checks the version: a plan read before that lock and
    # changed meanwhile is refused there (409), not applied over the new one.
    stop_ids.insert(target, stop_ids.pop(index))
    stops_reorder(
        organization_id=organization_id,
        route_id=route_id,
        stop_ids=stop_ids,
        plan_version=plan_version,
    )


def stop_move(
    *,
    organization_id: int,
    route_id: int,
    stop_id: int,
    offset: int,
    plan_version: int | None = None,
) -> None:
    """Move one stop `offset` places (-1: one earlier, +1: one later)."""
    require_organization(organization_id)
    stop_ids, index = _stop_places(organization_id, route_id, stop_id)
    target = index + offset
    if not 0 <= target < len(stop_ids):
        raise ValidationError({"stops": "The stop cannot move further that way."})
    _stop_put(organization_id, route_id, stop_ids, index, target, plan_version)


def stop_move_to(
    *,
    organization_id: int,
    route_id: int,
    stop_id: int,
    sequence: int,
    plan_version: int | None = None,
) -> None:
    """Move one stop to place `sequence` (1 is first); the stops in between shift by one."""
    require_organization(organization_id)
    stop_ids, index = _stop_places(organization_id, route_id, stop_id)
    if not 1 <= sequence <= len(stop_ids):
        raise ValidationError({"sequence": f"Give a place from 1 to {len(stop_ids)}."})
    _stop_put(organization_id, route_id, stop_ids, index, sequence - 1, plan_version)


def route_dispatch(
    *,
    organization_id: int,
    route_id: int,
    actor: AbstractBaseUser | None = None,
    plan_version: int | None = None,
    now: dt.datetime | None = None,
    source: str | None = None,
) -> Route:
    """Hand the planned route to its driver: its orders go out for delivery."""
    require_organization(organization_id)
    with transaction.atomic():
        route = _route_lock(organization_id, route_id, plan_version=plan_version)
        if route.status != Route.Status.PLANNED:
            raise RouteConflict(f"This route is already {route.get_status_display().lower()}.")
        if route.vehicle_id is None or route.driver_id is None:
            raise ValidationError({"route": "Give the route a vehicle and a driver first."})
        stops = list(Stop.objects.filter(route=route).select_related("order"))
        if not stops:
            raise ValidationError({"route": "A route without stops cannot be dispatched."})
        for stop in stops:
            if stop.order.status == S.ASSIGNED:
                order_transition(
                    organization_id=organization_id,
                    order_id=stop.order_id,
                    to_status=S.OUT_FOR_DELIVERY,
                    actor=actor,
                    source=source or _plan_source(actor),
                )
        route.status = Route.Status.DISPATCHED
        route.dispatched_at = now or timezone.now()
        route.save(update_fields=["status", "dispatched_at"])
        _plan_changed(route)
    return route


def _route_visit_lock(organization_id: int, stop_id: int) -> tuple[Route, Stop]:
    """Lock the stop's route, then read the stop: a visit sees the stop as the last plan change
    or visit left it (the route row is the one lock every writer of a route takes first)."""
    route_id = Stop.objects.values_list("route_id", flat=True).get(
        organization_id=organization_id, pk=stop_id
    )
    route = _route_lock(organization_id, route_id)
    return route, Stop.objects.select_related("order").get(pk=stop_id, route=route)


def _order_send_out(
    route: Route,
    order: Order,
    *,
    actor: AbstractBaseUser | None,
    source: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> int:
    """Walk an order not yet out for delivery up to it (created -> assigned -> out for
    delivery), one real event per step. Returns the number of steps taken."""
    path: dict[str, list[str]] = {
        S.CREATED: [S.ASSIGNED, S.OUT_FOR_DELIVERY],
        S.ASSIGNED: [S.OUT_FOR_DELIVERY],
    }
    steps = path.get(order.status, [])
    for to_status in steps:
        order_transition(
            organization_id=route.organization_id,
            order_id=order.pk,
            to_status=to_status,
            actor=actor,
            source=source,
            latitude=latitude,
            longitude=longitude,
        )
    return len(steps)


def route_start(
    *,
    organization_id: int,
    route_id: int,
    source: str,
    actor: AbstractBaseUser | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    now: dt.datetime | None = None,
) -> tuple[Route, int]:
    """The driver is under way: the route is in progress and its orders not yet out go out for
    delivery. A route nobody dispatched counts as dispatched now. Returns the route and how
    many order moves were made."""
    require_organization(organization_id)
    with transaction.atomic():
        route = _route_lock(organization_id, route_id)
        moved = 0
        for stop in Stop.objects.filter(route=route).select_related("order").order_by("sequence"):
            moved += _order_send_out(
                route,
                stop.order,
                actor=actor,
                source=source,
                latitude=latitude,
                longitude=longitude,
            )
        if route.status != Route.Status.IN_PROGRESS:
            route.dispatched_at = route.dispatched_at or now or timezone.now()
            route.status = Route.Status.IN_PROGRESS
            route.save(update_fields=["status", "dispatched_at"])
            route_changed_emit(route=route)
        _etas_refresh_on_commit(route)
    return route, moved


def stop_arrive(
    *,
    organization_id: int,
    stop_id: int,
    source: str,
    actor: AbstractBaseUser | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    now: dt.datetime | None = None,
) -> Stop:
    """The vehicle is at the stop: its order arrives and the route is in progress. The
    remaining stops' ETAs are refreshed on commit (they now start from here)."""
    now = now or timezone.now()
    require_organization(organization_id)
    with transaction.atomic():
        route, stop = _route_visit_lock(organization_id, stop_id)
        if route.status == Route.Status.PLANNED:
            raise RouteConflict("Dispatch the route before its stops are visited.")
        if stop.actual_arrival is not None:
            raise RouteConflict("The vehicle is already at this stop.")
        stop.order = order_transition(
            organization_id=organization_id,
            order_id=stop.order_id,
            to_status=S.ARRIVED,
            actor=actor,
            source=source,
            latitude=latitude,
            longitude=longitude,
        )
        stop.actual_arrival = now
        stop.late_risk = False  # the vehicle is there: no longer at risk of being late
        stop.save(update_fields=["actual_arrival", "late_risk"])
        if route.status == Route.Status.DISPATCHED:
            route.status = Route.Status.IN_PROGRESS
            route.save(update_fields=["status"])
            route_changed_emit(route=route)
        stop_event_emit(
            kind=STOP_ARRIVED,
            stop=stop,
            route=route,
            order_status=stop.order.status,
            latitude=latitude,
            longitude=longitude,
        )
        _etas_refresh_on_commit(route)
    return stop


def stop_depart(
    *,
    organization_id: int,
    stop_id: int,
    to_status: str,
    source: str,
    actor: AbstractBaseUser | None = None,
    reason_code: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> Stop:
    """The stop is done (delivered or failed); the route completes with its last stop.

    The order's state machine decides whether the stop can be done (InvalidTransition when the
    order has not arrived). An order that arrived by another door (the API) has no arrival on
    its stop yet; the stop then takes the departure time as its arrival too.
    """
    now = now or timezone.now()
    require_organization(organization_id)
    with transaction.atomic():
        route, stop = _route_visit_lock(organization_id, stop_id)
        if stop.actual_departure is not None:
            raise RouteConflict("This stop is already done.")
        stop.order = order_transition(
            organization_id=organization_id,
            order_id=stop.order_id,
            to_status=to_status,
            actor=actor,
            source=source,
            reason_code=reason_code,
            latitude=latitude,
            longitude=longitude,
            note=note,
        )
        stop.actual_arrival = stop.actual_arrival or now
        stop.actual_departure = now
        stop.save(update_fields=["actual_arrival", "actual_departure"])
        stop_event_emit(
            kind=STOP_DEPARTED,
            stop=stop,
            route=route,
            order_status=stop.order.status,
            latitude=latitude,
            longitude=longitude,
        )
        open_stops = Stop.objects.filter(route=route, actual_departure__isnull=True).exclude(
            order__status__in=FINAL_STATUSES
        )
        if not open_stops.exists():
            route.status = Route.Status.COMPLETED
            route.save(update_fields=["status"])
            route_changed_emit(route=route)
        _etas_refresh_on_commit(route)
    return stop


def order_cancel(
    *,
    organization_id: int,
    order_id: int,
    actor: AbstractBaseUser | None = None,
    source: str = Source.SYSTEM,
    note: str = "",
) -> Order:
    """Cancel an order (here, beside the plan changes it may need). One still waiting on a route is taken off it first (its stop removed,
    the route renumbered and its ETAs refreshed, as the console's remove does), so no driver
    drives to a cancelled order. Raises InvalidTransition (409) for a finished order."""
    require_organization(organization_id)
    with transaction.atomic():
        # The route is locked before the order (stop_remove's order), as every plan change does.
        stop = order_open_stop(organization_id, order_id)
        if stop is not None:
            stop_remove(
                organization_id=organization_id,
                route_id=stop.route_id,
                stop_id=stop.pk,
                actor=actor,
            )
        return order_transition(
            organization_id=organization_id,
            order_id=order_id,
            to_status=S.CANCELLED,
            actor=actor,
            source=source,
            note=note,
        )
