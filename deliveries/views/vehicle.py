"""The live map's vehicle details panel asks here for the vehicle's route today (JSON).

The map lives in fleet, which may not import deliveries; the panel fetches this instead
(`vehicleRouteUrlTemplate` in the map config). Times are the organization's, as text."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from fleet import selectors as fleet_selectors
from fleet.models import Vehicle
from tenancy.permissions import CONSOLE_ROLES, PLANNER_ROLES, has_role, role_required
from tenancy.selectors import membership_hub_ids

from ..models import Stop
from ..selectors.tracking import span_text, time_text
from ..selectors.vehicle import VehicleRouteToday, vehicle_route_today
from ..templatetags.deliveries import ROUTE_STATUS_TONES

# Who may open the route editor the panel links to (deliveries/views_routes.py's ROUTE_ROLES).
ROUTE_EDITOR_ROLES = PLANNER_ROLES


def _stop_json(stop: Stop, *, tz: zoneinfo.ZoneInfo, today: Any) -> dict[str, Any]:
    order = stop.order
    window = (
        span_text(order.window_start, order.window_end, tz=tz, today=today)
        if order.window_start and order.window_end
        else ""
    )
    eta = stop.eta or stop.planned_arrival
    return {
        "sequence": stop.sequence,
        "reference": order.reference,
        "address": order.address,
        "window": window,
        "eta": eta.isoformat() if eta else None,
        "eta_text": time_text(eta, tz=tz, today=today) if eta else "",
        "eta_is_plan": stop.eta is None and eta is not None,
        "late_risk": stop.late_risk,
        "arrived": stop.actual_arrival is not None,
    }


def _route_json(
    request: HttpRequest, today_route: VehicleRouteToday, *, tz: zoneinfo.ZoneInfo, today: Any
) -> dict[str, Any]:
    route = today_route.route
    link = (
        reverse("deliveries:route_detail", args=[route.pk])
        if has_role(request, *ROUTE_EDITOR_ROLES)
        else ""
    )
    return {
        "id": route.pk,
        "name": f"Route #{route.pk}",
        "hub": route.hub.name,
        "status": route.status,
        "status_label": route.get_status_display(),
        "tone": ROUTE_STATUS_TONES[route.status],
        "url": link,
        "stops_total": today_route.stops_total,
        "stops_done": today_route.stops_done,
        "next_stop": (
            _stop_json(today_route.next_stop, tz=tz, today=today) if today_route.next_stop else None
        ),
    }


@require_GET
@role_required(*CONSOLE_ROLES)
def vehicle_route_today_json(request: HttpRequest, vehicle_id: int) -> JsonResponse:
    membership = request.membership  # type: ignore[attr-defined]
    organization_id = membership.organization_id
    hub_ids = membership_hub_ids(membership=membership) or None
    try:
        vehicle = fleet_selectors.vehicle_get(
            organization_id=organization_id, vehicle_id=vehicle_id, hub_ids=hub_ids
        )
    except Vehicle.DoesNotExist as exc:
        raise Http404("No such vehicle.") from exc
    tz = zoneinfo.ZoneInfo(request.organization.timezone)  # type: ignore[attr-defined]
    today = timezone.localtime(timezone.now(), tz).date()
    today_route = vehicle_route_today(
        organization_id=organization_id, vehicle_id=vehicle.pk, date=today, hub_ids=hub_ids
    )
    body: dict[str, Any] = {
        "vehicle_id": vehicle.pk,
        "date": today.isoformat(),
        "route": _route_json(request, today_route, tz=tz, today=today) if today_route else None,
    }
    response = JsonResponse(body)
    response["Cache-Control"] = "private, no-store"
    return response
