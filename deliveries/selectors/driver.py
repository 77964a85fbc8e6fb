"""The driver app's reads: the driver of a login, their routes of a day, one of their stops."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from fleet.models import Driver
from tenancy.context import require_organization

from ..models import Route, Stop


def driver_for_user(*, organization_id: int, user: AbstractBaseUser) -> Driver | None:
    require_organization(organization_id)
    return Driver.objects.filter(organization_id=organization_id, user_id=user.pk).first()


def driver_route_list(*, organization_id: int, driver_id: int, date: dt.date) -> list[Route]:
    """The driver's routes of `date`, each with its stops (and their orders) in sequence."""
    require_organization(organization_id)
    routes = list(
        Route.objects.filter(organization_id=organization_id, driver_id=driver_id, date=date)
        .select_related("hub", "vehicle")
        .order_by("id")
    )
    for route in routes:
        route.stop_list = list(_stops(organization_id, route_ids=[route.pk]))  # type: ignore[attr-defined]
    return routes


def driver_stop_get(*, organization_id: int, driver_id: int, stop_id: int) -> Stop:
    """A stop of one of the driver's own routes; Stop.DoesNotExist for anybody else's."""
    require_organization(organization_id)
    return _stops(organization_id, route_ids=None).get(pk=stop_id, route__driver_id=driver_id)


def _stops(organization_id: int, *, route_ids: list[int] | None) -> QuerySet[Stop]:
    stops = (
        Stop.objects.filter(organization_id=organization_id)
        .select_related("order", "route", "route__hub")
        .order_by("route_id", "sequence")
    )
    return stops.filter(route_id__in=route_ids) if route_ids is not None else stops
