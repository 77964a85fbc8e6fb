"""The dispatcher's route console: the day's routes by hub, and the route editor (htmx).

Every action answers with the editor partial: on success the new plan, on bad input the same
plan with the reason and a precise status (400 invalid, 404 not found, 409 route cannot change
now: tenancy/api/errors.py maps the services' errors), which static/deliveries/routes.js lets
htmx swap in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import groupby
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tenancy.api.errors import REFUSALS, error_status
from tenancy.permissions import PLANNER_ROLES, role_required

from ..filtersets import RouteFilterSet
from ..models import Route
from ..selectors import routes as route_selectors
from ..services import routes as route_services
from ..templatetags.deliveries import ROUTE_STATUS_TONES
from .requests import is_partial, request_scope, request_today

ROUTE_ROLES = PLANNER_ROLES
EDITOR = "deliveries/routes/_route_editor.html"


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def _route_or_404(request: HttpRequest, route_id: int) -> Route:
    organization_id, hub_ids = request_scope(request)
    try:
        return route_selectors.route_get(
            organization_id=organization_id, route_id=route_id, hub_ids=hub_ids
        )
    except Route.DoesNotExist as exc:
        raise Http404("No such route.") from exc


def _editor_context(request: HttpRequest, route: Route) -> dict[str, Any]:
    organization_id, _ = request_scope(request)
    stops = route_selectors.route_stop_list(organization_id=organization_id, route_id=route.pk)
    return {
        "section": "routes",
        "route": route,
        "route_tone": ROUTE_STATUS_TONES[route.status],
        "stops": stops,
        "late_count": sum(1 for stop in stops if stop.late_risk and stop.actual_arrival is None),
        "addable": route_selectors.route_addable_orders(
            organization_id=organization_id, route=route
        ),
        "editable": route.status != Route.Status.COMPLETED,
        # A worker refreshes the ETAs after a plan change: until it has, say so and poll.
        "etas_pending": route.status != Route.Status.COMPLETED
        and route.etas_plan_version != route.plan_version
        and any(stop.actual_arrival is None for stop in stops),
        "stop_points": [
            {
                "sequence": stop.sequence,
                "reference": stop.order.reference,
                "lat": stop.order.latitude,
                "lon": stop.order.longitude,
                "late": stop.late_risk,
                "done": stop.actual_arrival is not None,
            }
            for stop in stops
            if not stop.order.needs_coordinates
        ],
        "hub_point": {"lat": route.hub.latitude, "lon": route.hub.longitude},
    }


@require_GET
@role_required(*ROUTE_ROLES)
def route_list(request: HttpRequest) -> HttpResponse:
    organization_id, hub_ids = request_scope(request)
    today = request_today(request)
    # The API's FilterSet reads the day (and any other filter given); today when none is.
    query = request.GET.copy()
    if not query.get("date"):
        query["date"] = today.isoformat()
    routes_of_scope = route_selectors.route_list(organization_id=organization_id, hub_ids=hub_ids)
    filters = RouteFilterSet(query, queryset=routes_of_scope)
    day, date_error = today, ""
    if filters.is_valid():
        day = filters.form.cleaned_data["date"]
        routes = list(filters.qs)
    else:
        date_error = (
            "Give the date as YYYY-MM-DD." if "date" in filters.errors else "Check the filters."
        )
        routes = list(routes_of_scope.filter(date=today))
    for route in routes:
        route.tone = ROUTE_STATUS_TONES[route.status]  # type: ignore[attr-defined]
    context = {
        "section": "routes",
        "day": day,
        "date_error": date_error,
        "hubs": [(hub, list(items)) for hub, items in groupby(routes, key=lambda r: r.hub)],
        "choices": route_selectors.route_form_choices(
            organization_id=organization_id, hub_ids=hub_ids
        ),
    }
    return render(
        request, "deliveries/routes/route_list.html", context, status=400 if date_error else 200
    )


@require_POST
@role_required(*ROUTE_ROLES)
def route_create(request: HttpRequest) -> HttpResponse:
    organization_id, hub_ids = request_scope(request)

    def optional_int(name: str) -> int | None:
        value = request.POST.get(name, "").strip()
        return int(value) if value else None

    try:
        hub_id = optional_int("hub")
        if hub_id is None:
            raise ValidationError({"hub": "Pick a hub."})
        if hub_ids and hub_id not in hub_ids:
            raise ValidationError({"hub": "No such hub in your scope."})
        date = dt.date.fromisoformat(request.POST.get("date") or request_today(request).isoformat())
        route = route_services.route_create(
            organization_id=organization_id,
            hub_id=hub_id,
            date=date,
            vehicle_id=optional_int("vehicle"),
            driver_id=optional_int("driver"),
        )
    except (ValueError, ValidationError) as exc:
        message = _error_text(exc) if isinstance(exc, ValidationError) else "Check the form."
        messages.error(request, f"The route was not created: {message}")
        return redirect(reverse("deliveries:route_list"))
    return redirect(reverse("deliveries:route_detail", args=[route.pk]))


@require_GET
@role_required(*ROUTE_ROLES)
def route_detail(request: HttpRequest, route_id: int) -> HttpResponse:
    route = _route_or_404(request, route_id)
    context = _editor_context(request, route)
    if is_partial(request):
        return render(request, EDITOR, context)
    return render(request, "deliveries/routes/route_detail.html", {**context, **_map_context()})


def _map_context() -> dict[str, str]:
    return {
        "tile_url": settings.MAP_TILE_URL,
        "tile_attribution": settings.MAP_TILE_ATTRIBUTION,
    }


def _route_action(
    request: HttpRequest, route_id: int, action: Callable[[int, int | None], object]
) -> HttpResponse:
    """Run one plan change and answer with the editor (or redirect, without htmx)."""
    route = _route_or_404(request, route_id)
    organization_id, _ = request_scope(request)
    try:
        raw_version = request.POST.get("plan_version", "").strip()
        plan_version = int(raw_version) if raw_version else None
        action(organization_id, plan_version)
    except ValueError:
        return _editor_error(request, route, "Send a whole number where one is asked.", 400)
    except REFUSALS as exc:
        # The status from the one mapping (tenancy/api/errors.py); the words for the editor.
        status = error_status(exc) or 400
        if isinstance(exc, ObjectDoesNotExist):
            message = "No such order or stop on this hub's routes."
        else:
            message = _error_text(exc)
        return _editor_error(request, route, message, status)
    if not is_partial(request):
        return redirect(reverse("deliveries:route_detail", args=[route.pk]))
    route = _route_or_404(request, route_id)
    return render(request, EDITOR, _editor_context(request, route))


def _editor_error(request: HttpRequest, route: Route, message: str, status: int) -> HttpResponse:
    route = _route_or_404(request, route.pk)
    context = {**_editor_context(request, route), "error": message}
    if is_partial(request):
        return render(request, EDITOR, context, status=status)
    return render(
        request,
        "deliveries/routes/route_detail.html",
        {**context, **_map_context()},
        status=status,
    )


def _posted_int(request: HttpRequest, name: str) -> int:
    value = request.POST.get(name, "").strip()
    if not value:
        raise ValidationError({name: f"Missing {name.replace('_', ' ')}."})
    return int(value)


@require_POST
@role_required(*ROUTE_ROLES)
def route_stop_add(request: HttpRequest, route_id: int) -> HttpResponse:
    return _route_action(
        request,
        route_id,
        lambda organization_id, plan_version: route_services.stop_add(
            organization_id=organization_id,
            route_id=route_id,
            order_id=_posted_int(request, "order_id"),
            actor=request.user,  # type: ignore[arg-type]
            plan_version=plan_version,
        ),
    )


@require_POST
@role_required(*ROUTE_ROLES)
def route_stop_remove(request: HttpRequest, route_id: int, stop_id: int) -> HttpResponse:
    return _route_action(
        request,
        route_id,
        lambda organization_id, plan_version: route_services.stop_remove(
            organization_id=organization_id,
            route_id=route_id,
            stop_id=stop_id,
            actor=request.user,  # type: ignore[arg-type]
            plan_version=plan_version,
        ),
    )


@require_POST
@role_required(*ROUTE_ROLES)
def route_stop_move(request: HttpRequest, route_id: int, stop_id: int) -> HttpResponse:
    offsets = {"up": -1, "down": 1}

    def move(organization_id: int, plan_version: int | None) -> None:
        direction = request.POST.get("direction", "")
        if direction not in offsets:
            raise ValidationError({"direction": "Move a stop up or down."})
        route_services.stop_move(
            organization_id=organization_id,
            route_id=route_id,
            stop_id=stop_id,
            offset=offsets[direction],
            plan_version=plan_version,
        )

    return _route_action(request, route_id, move)


@require_POST
@role_required(*ROUTE_ROLES)
def route_dispatch(request: HttpRequest, route_id: int) -> HttpResponse:
    return _route_action(
        request,
        route_id,
        lambda organization_id, plan_version: route_services.route_dispatch(
            organization_id=organization_id,
            route_id=route_id,
            actor=request.user,  # type: ignore[arg-type]
            plan_version=plan_version,
        ),
    )
