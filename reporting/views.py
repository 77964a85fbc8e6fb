"""History pages: a vehicle's local day (map, playback, speed chart, trips, stops, events), its
data as one JSON document, and its track as GPX, KML or CSV. Logic lives in selectors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from deliveries.models import Route
from fleet.basemap import base_layer_url
from fleet.models import Vehicle
from tenancy.permissions import CONSOLE_ROLES, role_required
from tenancy.selectors import membership_hub_ids

from . import exports, selectors
from .history import vehicle_day_payload
from .plan_actual import eta_moves

# Dispatchers, managers, support agents and admins replay days; drivers do not.
HISTORY_ROLES = CONSOLE_ROLES
EXPORT_FORMATS = {
    "gpx": "application/gpx+xml",
    "kml": "application/vnd.google-earth.kml+xml",
    "csv": "text/csv; charset=utf-8",
}


def _scope(request: HttpRequest) -> tuple[int, list[int]]:
    membership = request.membership  # type: ignore[attr-defined]
    return membership.organization_id, membership_hub_ids(membership=membership)


def _vehicle(request: HttpRequest, vehicle_id: int) -> Vehicle:
    organization_id, hub_ids = _scope(request)
    try:
        return selectors.history_vehicle_get(
            organization_id=organization_id, vehicle_id=vehicle_id, hub_ids=hub_ids or None
        )
    except Vehicle.DoesNotExist:
        raise Http404("No such vehicle.") from None


def _vehicle_json(vehicle: Vehicle) -> dict[str, Any]:
    return {"id": vehicle.pk, "plate": vehicle.plate, "hub": vehicle.hub.name}


def _parse_day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


@require_GET
@role_required(*HISTORY_ROLES)
def history_index(request: HttpRequest) -> HttpResponse:
    """The picker's target (?vehicle=&day=) and the navigation's entry: goes to a vehicle's day."""
    organization_id, hub_ids = _scope(request)
    vehicles = selectors.history_vehicle_list(
        organization_id=organization_id, hub_ids=hub_ids or None
    )
    today = selectors.local_today(request.organization)  # type: ignore[attr-defined]
    day = _parse_day(request.GET.get("day", "")) or today
    wanted = request.GET.get("vehicle", "")
    # Ids fit in 18 digits: a longer one would overflow bigint (a 500) and names nothing anyway.
    if wanted and not (wanted.isdigit() and len(wanted) <= 18):
        raise Http404("No such vehicle.")
    vehicle = vehicles.filter(pk=int(wanted)).first() if wanted else vehicles.first()
    if vehicle is None:
        if wanted:
            raise Http404("No such vehicle.")
        return render(request, "reporting/history_empty.html", {"section": "history"})
    return redirect("history:vehicle_day", vehicle_id=vehicle.pk, day=day)


@require_GET
@role_required(*HISTORY_ROLES)
def vehicle_today(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    """The live map's and the order page's link: this vehicle's day, today."""
    vehicle = _vehicle(request, vehicle_id)
    today = selectors.local_today(request.organization)  # type: ignore[attr-defined]
    return redirect("history:vehicle_day", vehicle_id=vehicle.pk, day=today)


@require_GET
@role_required(*HISTORY_ROLES)
def vehicle_day(request: HttpRequest, vehicle_id: int, day: dt.date) -> HttpResponse:
    vehicle = _vehicle(request, vehicle_id)
    organization_id, hub_ids = _scope(request)
    organization = request.organization  # type: ignore[attr-defined]
    vehicles = selectors.history_vehicle_list(
        organization_id=organization_id, hub_ids=hub_ids or None
    )
    hub = vehicle.hub
    config = {
        "dataUrl": reverse(
            "history:vehicle_day_data", kwargs={"vehicle_id": vehicle.pk, "day": day}
        ),
        "timezone": organization.timezone,
        "tileUrl": settings.MAP_TILE_URL,
        "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
        "roadsUrl": base_layer_url(),
        "center": [hub.latitude, hub.longitude],
        "orderUrlTemplate": reverse("deliveries:order_detail", kwargs={"order_id": 0}),
    }
    exports_urls = {
        fmt: reverse(
            "history:vehicle_day_export",
            kwargs={"vehicle_id": vehicle.pk, "day": day, "file_format": fmt},
        )
        for fmt in EXPORT_FORMATS
    }
    today = selectors.local_today(organization)
    return render(
        request,
        "reporting/vehicle_day.html",
        {
            "section": "history",
            "vehicle": vehicle,
            "vehicles": vehicles,
            "day": day,
            "previous_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1) if day < today else None,
            "today": today,
            "history_config": config,
            "export_urls": exports_urls,
            "day_routes": selectors.vehicle_day_routes(
                organization_id=organization_id, vehicle_id=vehicle.pk, day=day
            ),
        },
    )


def _day_track(
    request: HttpRequest, vehicle: Vehicle, day: dt.date
) -> tuple[selectors.LocalDay, selectors.TrackColumns]:
    organization = request.organization  # type: ignore[attr-defined]
    local_day = selectors.LocalDay.of(day, organization.timezone)
    track = selectors.vehicle_track(
        organization_id=organization.pk,
        vehicle_id=vehicle.pk,
        start=local_day.start,
        end=local_day.end,
    )
    return local_day, track


@require_GET
@role_required(*HISTORY_ROLES)
def vehicle_day_data(request: HttpRequest, vehicle_id: int, day: dt.date) -> HttpResponse:
    vehicle = _vehicle(request, vehicle_id)
    organization_id = vehicle.organization_id
    local_day, track = _day_track(request, vehicle, day)
    window = {"start": local_day.start, "end": local_day.end}
    events = [
        *selectors.vehicle_delivery_events(
            organization_id=organization_id, vehicle_id=vehicle.pk, **window
        ),
        *selectors.vehicle_alerts(organization_id=organization_id, vehicle_id=vehicle.pk, **window),
    ]
    events.sort(key=lambda event: event["timestamp"])
    payload = vehicle_day_payload(
        vehicle=_vehicle_json(vehicle),
        day=local_day,
        track=track,
        settings=selectors.history_settings_get(organization_id=organization_id),
        events=events,
    )
    # orjson: compact and several times faster than json on a day of numbers.
    body = orjson.dumps(payload)
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
@role_required(*HISTORY_ROLES)
def vehicle_day_export(
    request: HttpRequest, vehicle_id: int, day: dt.date, file_format: str
) -> HttpResponse:
    if file_format not in EXPORT_FORMATS:
        raise Http404("Unknown export format.")
    vehicle = _vehicle(request, vehicle_id)
    local_day, track = _day_track(request, vehicle, day)
    name = f"{vehicle.plate} {day.isoformat()}"
    description = f"{len(track)} fixes, {local_day.timezone}"
    if file_format == "gpx":
        body = exports.track_gpx(track, name=name, description=description)
    elif file_format == "kml":
        body = exports.track_kml(track, name=name, description=description)
    else:
        body = exports.track_csv(track, vehicle=vehicle.plate, timezone=local_day.timezone)
    response = HttpResponse(body, content_type=EXPORT_FORMATS[file_format])
    filename = f"track-{vehicle.pk}-{day.isoformat()}.{file_format}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


WINDOW_LABELS = {
    "early": ("Early", "severity-info"),
    "on_time": ("On time", "delivery-delivered"),
    "late": ("Late", "delivery-failed"),
    "not_visited": ("Not visited", "delivery-cancelled"),
    "no_window": ("No window", "delivery-created"),
}


def _minutes_text(minutes: int) -> str:
    if minutes <= 0:
        return ""
    if minutes >= 24 * 60:
        return "over a day"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


@require_GET
@role_required(*HISTORY_ROLES)
def route_plan_actual(request: HttpRequest, route_id: int) -> HttpResponse:
    """A route's plan against what was driven: sequence, distance, duration, windows."""
    organization_id, hub_ids = _scope(request)
    try:
        route, result = selectors.route_plan_versus_actual(
            organization_id=organization_id, route_id=route_id, hub_ids=hub_ids or None
        )
    except Route.DoesNotExist:
        raise Http404("No such route.") from None
    predictions = selectors.route_eta_history(
        organization_id=organization_id,
        route=route,
        timezone=request.organization.timezone,  # type: ignore[attr-defined]
    )
    rows = [
        {
            "outcome": outcome,
            "label": WINDOW_LABELS[outcome.window_status],
            "off_window": _minutes_text(outcome.minutes_off_window),
            "eta_moves": eta_moves(
                predictions.get(outcome.stop.stop_id, []), outcome.stop.actual_arrival
            ),
        }
        for outcome in result.outcomes
    ]
    return render(
        request,
        "reporting/route_plan_actual.html",
        {
            "section": "history",
            "route": route,
            "result": result,
            "rows": rows,
            "compliance_percent": (
                None
                if result.sequence_compliance is None
                else round(result.sequence_compliance * 100)
            ),
            "counts": {key: result.count(key) for key in WINDOW_LABELS},
            "planned_km": result.planned_distance_m / 1000,
            "driven_km": None
            if result.driven_distance_m is None
            else result.driven_distance_m / 1000,
        },
    )
