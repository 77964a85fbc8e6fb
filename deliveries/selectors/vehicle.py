"""A vehicle's route today, as the live map's details panel shows it (deliveries/views/vehicle.py).

Deliveries sits above fleet, so the map (fleet) asks this over HTTP instead of importing it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tenancy.context import require_organization

from ..models import Route, Stop
from ..transitions import STOP_DONE_STATUSES

# Which of a vehicle's routes of the day the panel shows when it has several: the one on the road.
_STATUS_RANK = {
    Route.Status.IN_PROGRESS: 0,
    Route.Status.DISPATCHED: 1,
    Route.Status.PLANNED: 2,
    Route.Status.COMPLETED: 3,
}


@dataclass(frozen=True)
class VehicleRouteToday:
    route: Route
    stops_total: int
    stops_done: int
    next_stop: Stop | None  # None: every stop is done


def _is_done(stop: Stop) -> bool:
    return stop.order.status in STOP_DONE_STATUSES or stop.actual_departure is not None


def vehicle_route_today(
    *, organization_id: int, vehicle_id: int, date: dt.date, hub_ids: list[int] | None = None
) -> VehicleRouteToday | None:
    """The vehicle's route on `date` (of `hub_ids` only, when given): progress and the next stop."""
    require_organization(organization_id)
    routes = Route.objects.filter(
        organization_id=organization_id, vehicle_id=vehicle_id, date=date
    ).select_related("hub")
    if hub_ids:
        routes = routes.filter(hub_id__in=hub_ids)
    candidates = sorted(routes, key=lambda route: (_STATUS_RANK.get(route.status, 9), route.pk))
    if not candidates:
        return None
    route = candidates[0]
    stops = list(
        Stop.objects.filter(organization_id=organization_id, route_id=route.pk)
        .select_related("order")
        .order_by("sequence")
    )
    done = [stop for stop in stops if _is_done(stop)]
    pending = [stop for stop in stops if not _is_done(stop)]
    return VehicleRouteToday(
        route=route,
        stops_total=len(stops),
        stops_done=len(done),
        next_stop=pending[0] if pending else None,
    )
