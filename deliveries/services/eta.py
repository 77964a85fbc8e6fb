"""Live ETAs: travel times from a provider, then stop-by-stop arithmetic with service times and
time windows.

A provider answers one question, `durations(points)`: the driving seconds between consecutive
(lat, lon) points. The default estimates them from great-circle distance x the hub's detour
factor at the hub's average speed; an OSRM or Valhalla server can be configured with
`DOORSTEP_ROUTING_PROVIDER` (`osrm` / `valhalla`) and `DOORSTEP_ROUTING_URL`. A routing server
that fails or is slow never stops ETAs: the great-circle estimate is used instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol

import httpx
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from fleet.geo import haversine_m
from fleet.models import Hub, VehicleState
from tenancy.context import in_tenant, require_organization

from ..models import Route, Stop
from ..outbox import order_eta_changed_emit
from ..transitions import FINAL_STATUSES

logger = logging.getLogger(__name__)

Point = tuple[float, float]  # (latitude, longitude)
ROUTING_TIMEOUT_S = 3.0
# Stops whose ETA moves by more than this are reported to the organization's webhooks.
ETA_CHANGE_NOTIFY = dt.timedelta(minutes=5)
# The task that refreshes one route's ETAs after a plan change (deliveries/tasks.py). Sent by
# name, so this module does not import the task module that imports it.
ROUTE_ETAS_REFRESH_TASK = "deliveries.route_etas_refresh"


def great_circle_m(a: Point, b: Point) -> float:
    return haversine_m(a[0], a[1], b[0], b[1])


class TravelTimeProvider(Protocol):
    def durations(self, points: Sequence[Point]) -> list[float]:
        """Seconds of driving from each point to the next: len(points) - 1 values."""
        ...


@dataclass(frozen=True)
class GreatCircleProvider:
    speed_kmh: float
    detour_factor: float = 1.0

    def durations(self, points: Sequence[Point]) -> list[float]:
        metres_per_second = self.speed_kmh / 3.6
        return [
            great_circle_m(a, b) * self.detour_factor / metres_per_second
            for a, b in pairwise(points)
        ]


class RoutingServerError(Exception):
    """The routing server answered nothing usable."""


@dataclass(frozen=True)
class _ServerProvider:
    url: str
    fallback: TravelTimeProvider
    timeout: float = ROUTING_TIMEOUT_S

    def durations(self, points: Sequence[Point]) -> list[float]:
        if len(points) < 2:
            return []
        try:
            legs = self._request(points)
        except (httpx.HTTPError, RoutingServerError, KeyError, IndexError, TypeError, ValueError):
            logger.warning(
                "routing server %s failed; using great-circle ETAs", self.url, exc_info=True
            )
            return self.fallback.durations(points)
        if len(legs) != len(points) - 1:
            logger.warning(
                "routing server %s returned %d legs for %d points", self.url, len(legs), len(points)
            )
            return self.fallback.durations(points)
        return legs

    def _request(self, points: Sequence[Point]) -> list[float]:
        raise NotImplementedError


class OsrmProvider(_ServerProvider):
    """OSRM's route service: GET /route/v1/driving/lon,lat;lon,lat...; legs[i].duration."""

    def _request(self, points: Sequence[Point]) -> list[float]:
        coordinates = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
        response = httpx.get(
            f"{self.url.rstrip('/')}/route/v1/driving/{coordinates}",
            params={"overview": "false", "steps": "false"},
            timeout=self.timeout,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if body.get("code") != "Ok":
            raise RoutingServerError(body.get("message") or body.get("code"))
        return [float(leg["duration"]) for leg in body["routes"][0]["legs"]]


class ValhallaProvider(_ServerProvider):
    """Valhalla's /route: POST locations; trip.legs[i].summary.time."""

    def _request(self, points: Sequence[Point]) -> list[float]:
        response = httpx.post(
            f"{self.url.rstrip('/')}/route",
            json={
                "locations": [{"lat": lat, "lon": lon} for lat, lon in points],
                "costing": "auto",
                "directions_type": "none",
            },
            timeout=self.timeout,
        )
        response.raise_for_status()
        return [float(leg["summary"]["time"]) for leg in response.json()["trip"]["legs"]]


def provider_for_hub(hub: Hub) -> TravelTimeProvider:
    """The configured provider, with the hub's speed profile as its fallback."""
    great_circle = GreatCircleProvider(hub.eta_speed_kmh, hub.eta_detour_factor)
    kind = settings.DOORSTEP_ROUTING_PROVIDER
    url = settings.DOORSTEP_ROUTING_URL
    if kind == "osrm" and url:
        return OsrmProvider(url, great_circle)
    if kind == "valhalla" and url:
        return ValhallaProvider(url, great_circle)
    return great_circle


# -- the arithmetic (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class StopPlan:
    service_seconds: float
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None


@dataclass(frozen=True)
class StopEta:
    eta: dt.datetime  # arrival at the stop
    late_risk: bool  # arrival after the window's end


def etas_compute(
    *, start: dt.datetime, legs: Sequence[float], stops: Sequence[StopPlan]
) -> list[StopEta]:
    """Arrival at each stop when leaving `start` and driving `legs[i]` seconds to stop i; a stop
    reached before its window waits for the window to open before serving."""
    result = []
    clock = start
    for leg, stop in zip(legs, stops, strict=True):
        arrival = clock + dt.timedelta(seconds=leg)
        result.append(StopEta(arrival, stop.window_end is not None and arrival > stop.window_end))
        begin = max(arrival, stop.window_start) if stop.window_start else arrival
        clock = begin + dt.timedelta(seconds=stop.service_seconds)
    return result


# -- the refresh (database) --------------------------------------------------------------------


@dataclass(frozen=True)
class EtaChange:
    stop: Stop
    before: dt.datetime
    after: dt.datetime


def _start_point(route: Route) -> Point:
    state = (
        VehicleState.objects.filter(vehicle_id=route.vehicle_id).first()
        if route.vehicle_id
        else None
    )
    if state is not None:
        return state.latitude, state.longitude
    return route.hub.latitude, route.hub.longitude


def route_etas_refresh(
    *,
    organization_id: int,
    route_id: int,
    now: dt.datetime | None = None,
    provider: TravelTimeProvider | None = None,
) -> list[EtaChange]:
    """Recompute the ETA and late risk of the route's remaining stops from the vehicle's last
    fix (the hub when it has none), in one bulk update. ETAs that moved by more than
    ETA_CHANGE_NOTIFY are announced to the organization's webhooks, and returned."""
    require_organization(organization_id)
    now = now or timezone.now()
    route = Route.objects.select_related("hub").get(organization_id=organization_id, pk=route_id)
    provider = provider or provider_for_hub(route.hub)
    stops = [
        stop
        for stop in Stop.objects.filter(route=route, actual_arrival__isnull=True)
        .select_related("order")
        .order_by("sequence")
        if stop.order.status not in FINAL_STATUSES and not stop.order.needs_coordinates
    ]
    if not stops:
        _etas_plan_version_record(route)
        return []
    points = [_start_point(route)] + [(s.order.latitude, s.order.longitude) for s in stops]
    # The routing server is asked outside any transaction: it may take seconds.
    legs = provider.durations(points)
    etas = etas_compute(
        start=now,
        legs=legs,
        stops=[
            StopPlan(s.order.service_minutes * 60, s.order.window_start, s.order.window_end)
            for s in stops
        ],
    )
    changes = []
    for stop, computed in zip(stops, etas, strict=True):
        if stop.eta is not None and abs(computed.eta - stop.eta) > ETA_CHANGE_NOTIFY:
            changes.append(EtaChange(stop, stop.eta, computed.eta))
        stop.eta, stop.late_risk, stop.eta_updated_at = computed.eta, computed.late_risk, now
    with transaction.atomic():
        # The route row first, as every plan change locks it before its stops (no deadlock).
        Route.objects.filter(pk=route.pk).update(updated_at=now)
        Stop.objects.bulk_update(stops, ["eta", "late_risk", "eta_updated_at"])
        _etas_plan_version_record(route)
        for change in changes:
            order_eta_changed_emit(
                order=change.stop.order, eta=change.after, previous_eta=change.before
            )
    return changes


def _etas_plan_version_record(route: Route) -> None:
    """Note which plan the ETAs now belong to (the version read with the stops: a change made
    meanwhile bumped plan_version again and enqueued its own refresh)."""
    Route.objects.filter(pk=route.pk).update(etas_plan_version=route.plan_version)


def route_ids_due_for_refresh(*, organization_id: int) -> list[int]:
    """Routes on the road whose vehicle reported a fix after their ETAs were last computed."""
    require_organization(organization_id)
    return list(
        Route.objects.filter(
            organization_id=organization_id,
            status__in=(Route.Status.DISPATCHED, Route.Status.IN_PROGRESS),
            vehicle__state__isnull=False,
        )
        .annotate(refreshed=Max("stops__eta_updated_at"))
        .filter(Q(refreshed__isnull=True) | Q(vehicle__state__server_time__gt=F("refreshed")))
        .values_list("pk", flat=True)
    )


def route_etas_refresh_due(*, organization_id: int) -> int:
    """Refresh every route of the organization whose vehicle moved since its last refresh;
    returns how many were refreshed."""
    route_ids = route_ids_due_for_refresh(organization_id=organization_id)
    for route_id in route_ids:
        route_etas_refresh(organization_id=organization_id, route_id=route_id)
    return len(route_ids)


class RouteEtasRefreshEnqueue:
    """The on-commit callback of a plan change or a visit: a worker refreshes the route's ETAs,
    so the dispatcher's (or driver's) request never waits for the routing server."""

    def __init__(self, *, organization_id: int, route_id: int) -> None:
        self.organization_id, self.route_id = organization_id, route_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RouteEtasRefreshEnqueue) and (
            (self.organization_id, self.route_id) == (other.organization_id, other.route_id)
        )

    def __hash__(self) -> int:
        return hash((self.organization_id, self.route_id))

    def superseded(self) -> bool:
        """Another refresh of the same route waits to run after this one in the same commit.

        Django runs a commit's callbacks in order, popping each before it runs, so the list
        holds the ones still to come (a rolled-back savepoint's are already gone from it). Only
        the last refresh of a route is sent: it reads the plan as committed."""
        pending = [func for _, func, _ in transaction.get_connection().run_on_commit]
        mine = next((i for i, func in enumerate(pending) if func is self), -1)
        return any(func == self for func in pending[mine + 1 :])

    def __call__(self) -> None:
        if self.superseded():
            return
        kwargs = {"organization_id": self.organization_id, "route_id": self.route_id}
        try:
            current_app.send_task(ROUTE_ETAS_REFRESH_TASK, kwargs=kwargs, retry=False)
        except Exception:  # kombu's OperationalError, a refused socket, a DNS failure...
            # Without a broker the refresh runs here, as it did before it had a task: stale
            # ETAs after a plan change are worse than a slower answer during an outage. The
            # commit may come after the caller has left its context: enter it again.
            logger.warning("eta: could not enqueue the refresh of route %s", self.route_id)
            in_tenant(self.organization_id, route_etas_refresh, **kwargs)


def route_etas_refresh_on_commit(*, organization_id: int, route_id: int) -> None:
    """Refresh the route's ETAs once the current transaction commits (nothing if it rolls back,
    and the refresh reads what was saved). Several changes to one route in one transaction
    (an import, a batch of stops) enqueue one refresh: it reads the plan as committed."""
    transaction.on_commit(
        RouteEtasRefreshEnqueue(organization_id=organization_id, route_id=route_id)
    )
