"""Route reads: a day's routes, one route, its stops, the orders it could take, and the
choices of a new route."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Greatest

from fleet.models import Driver, Hub, Vehicle
from tenancy.context import require_organization

from ..models import Order, OrderStatus, Route, Stop
from ..transitions import STOP_DONE_STATUSES

S = OrderStatus


def route_list(
    *, organization_id: int, date: dt.date | None = None, hub_ids: list[int] | None = None
) -> QuerySet[Route]:
    """The routes (of a day, and of `hub_ids` only, when given) with their stop counts and
    `changed_at` (the latest change of the route or of an order on one of its stops), by hub.
    The console and the API narrow it further with RouteFilterSet."""
    require_organization(organization_id)
    routes = Route.objects.filter(organization_id=organization_id)
    if date is not None:
        routes = routes.filter(date=date)
    if hub_ids:
        routes = routes.filter(hub_id__in=hub_ids)
    return (
        routes.select_related("hub", "vehicle", "driver")
        .annotate(
            stop_count=Count("stops"),
            # A failed attempt closes its stop too (the re-attempt is a new stop).
            done_count=Count("stops", filter=Q(stops__order__status__in=STOP_DONE_STATUSES)),
            late_count=Count(
                "stops",
                filter=Q(stops__late_risk=True, stops__actual_arrival__isnull=True)
                & ~Q(stops__order__status__in=STOP_DONE_STATUSES),
            ),
            # GREATEST skips the NULL of a route without stops.
            changed_at=Greatest("updated_at", Max("stops__order__updated_at")),
        )
        .order_by("hub__name", "vehicle__plate", "pk")
    )


def route_get(*, organization_id: int, route_id: int, hub_ids: list[int] | None = None) -> Route:
    """One route of the organization (and hub scope); Route.DoesNotExist for a foreign id."""
    require_organization(organization_id)
    routes = Route.objects.filter(organization_id=organization_id).select_related(
        "hub", "vehicle", "driver"
    )
    if hub_ids:
        routes = routes.filter(hub_id__in=hub_ids)
    return routes.get(pk=route_id)


def route_stop_list(*, organization_id: int, route_id: int) -> list[Stop]:
    require_organization(organization_id)
    return list(
        Stop.objects.filter(organization_id=organization_id, route_id=route_id)
        .select_related("order")
        .order_by("sequence")
    )


def route_addable_orders(*, organization_id: int, route: Route, limit: int = 200) -> list[Order]:
    """Orders of the route's hub that a stop could take: located, not on an open stop."""
    require_organization(organization_id)
    on_routes = Stop.objects.filter(
        organization_id=organization_id, actual_departure__isnull=True
    ).exclude(route__status=Route.Status.COMPLETED)
    return list(
        Order.objects.filter(
            organization_id=organization_id,
            hub_id=route.hub_id,
            status__in=(S.CREATED, S.FAILED, S.ASSIGNED),
            latitude__isnull=False,
        )
        .exclude(pk__in=on_routes.values("order_id"))
        .order_by("window_start", "reference")[:limit]
    )


def route_form_choices(
    *, organization_id: int, hub_ids: list[int] | None = None
) -> dict[str, list[Any]]:
    """Hubs, vehicles and drivers a new route may use."""
    require_organization(organization_id)
    hubs = Hub.objects.filter(organization_id=organization_id).order_by("name")
    vehicles = Vehicle.objects.filter(organization_id=organization_id, active=True)
    drivers = Driver.objects.filter(organization_id=organization_id, active=True)
    vehicles, drivers = vehicles.order_by("plate"), drivers.order_by("name")
    if hub_ids:
        hubs = hubs.filter(pk__in=hub_ids)
        vehicles = vehicles.filter(hub_id__in=hub_ids)
    return {"hubs": list(hubs), "vehicles": list(vehicles), "drivers": list(drivers)}
