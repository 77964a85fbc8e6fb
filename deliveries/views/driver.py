"""The driver app: today's route, one stop, and the action endpoint the offline queue posts to."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from fleet.models import Driver
from tenancy.api.errors import REFUSALS, error_json
from tenancy.models import Role
from tenancy.permissions import role_required

from ..models import Route, Stop
from ..selectors import driver as driver_selectors
from ..selectors.orders import failure_reason_list
from ..services import driver_actions as driver_services
from ..services.driver_actions import ActionKind, DriverAction
from ..services.driver_phone import driver_phone_device_issue
from ..templatetags.deliveries import ROUTE_STATUS_TONES
from ..transitions import STOP_DONE_STATUSES
from .requests import request_today

PHONE_SESSION_KEY = "driver_phone"
# How far ahead of the server a phone's clock may claim an action happened.
CAPTURED_AT_MAX_AHEAD = dt.timedelta(minutes=10)


def _organization_id(request: HttpRequest) -> int:
    return int(request.membership.organization_id)  # type: ignore[attr-defined]


def _driver(request: HttpRequest) -> Driver | None:
    user = request.user
    assert user.is_authenticated  # every caller is behind a login check
    return driver_selectors.driver_for_user(organization_id=_organization_id(request), user=user)


def navigate_url(stop: Stop) -> str:
    """A geo: URI: the phone's own navigation app opens it (by address when not geocoded)."""
    order = stop.order
    if order.latitude is None or order.longitude is None:
        return f"geo:0,0?q={quote(order.address)}"
    return f"geo:{order.latitude},{order.longitude}?q={order.latitude},{order.longitude}"


def osm_directions_url(stop: Stop) -> str:
    order = stop.order
    if order.latitude is None or order.longitude is None:
        return f"https://www.openstreetmap.org/search?query={quote(order.address)}"
    return (
        "https://www.openstreetmap.org/directions?engine=fossgis_osrm_car"
        f"&route=%3B{order.latitude}%2C{order.longitude}"
    )


def _stop_rows(stops: list[Stop]) -> list[dict[str, Any]]:
    for stop in stops:
        stop.navigate_url = navigate_url(stop)  # type: ignore[attr-defined]
        stop.osm_url = osm_directions_url(stop)  # type: ignore[attr-defined]
        stop.done = stop.order.status in STOP_DONE_STATUSES  # type: ignore[attr-defined]
    return [
        {
            "id": stop.pk,
            "sequence": stop.sequence,
            "name": stop.order.customer_name,
            "lat": stop.order.latitude,
            "lon": stop.order.longitude,
            "status": stop.order.status,
        }
        for stop in stops
    ]


def _phone(request: HttpRequest, driver: Driver, routes: list[Route]) -> dict[str, Any] | None:
    """The phone's device id and token while a route of today is open; see docs/driver-app.md."""
    open_routes = [r for r in routes if r.status != Route.Status.COMPLETED]
    if not open_routes:
        return None
    vehicle_id = open_routes[0].vehicle_id
    held = request.session.get(PHONE_SESSION_KEY)
    if not held or held.get("vehicle_id") != vehicle_id or held.get("driver_id") != driver.pk:
        device, token = driver_phone_device_issue(
            organization_id=_organization_id(request), driver=driver, vehicle_id=vehicle_id
        )
        held = {
            "driver_id": driver.pk,
            "vehicle_id": vehicle_id,
            "identifier": device.identifier,
            "token": token,
        }
        request.session[PHONE_SESSION_KEY] = held
    return {"identifier": held["identifier"], "token": held["token"]}


def _app_config(
    request: HttpRequest, *, stops: list[dict[str, Any]], routes: list[Route], phone: Any
) -> dict[str, Any]:
    hub = routes[0].hub if routes else None
    return {
        "actionsUrl": reverse("driver:actions"),
        "batchUrl": "/api/v1/positions/batch/",
        "userKey": f"{_organization_id(request)}-{request.user.pk}",
        "stops": stops,
        "hub": {"name": hub.name, "lat": hub.latitude, "lon": hub.longitude} if hub else None,
        "routeActive": any(r.status == Route.Status.IN_PROGRESS for r in routes),
        "phone": phone,
    }


# The page carries the phone's device token: no cache, shared or private, may keep it.
@never_cache
@require_GET
@role_required(Role.DRIVER)
def driver_home(request: HttpRequest) -> HttpResponse:
    driver = _driver(request)
    routes: list[Route] = []
    stops: list[Stop] = []
    phone = None
    if driver is not None:
        routes = driver_selectors.driver_route_list(
            organization_id=_organization_id(request),
            driver_id=driver.pk,
            date=request_today(request),
        )
        stops = [stop for route in routes for stop in route.stop_list]  # type: ignore[attr-defined]
        for route in routes:
            route.tone = ROUTE_STATUS_TONES.get(route.status, "")  # type: ignore[attr-defined]
        phone = _phone(request, driver, routes)
    context = {
        "section": "driver",
        "driver": driver,
        "routes": routes,
        "stops": stops,
        "failure_reasons": list(failure_reason_list(organization_id=_organization_id(request))),
        "app_config": _app_config(request, stops=_stop_rows(stops), routes=routes, phone=phone),
    }
    return render(request, "deliveries/driver/home.html", context)


@never_cache
@require_GET
@role_required(Role.DRIVER)
def driver_stop(request: HttpRequest, stop_id: int) -> HttpResponse:
    driver = _driver(request)
    if driver is None:
        raise Http404("No such stop.")
    try:
        stop = driver_selectors.driver_stop_get(
            organization_id=_organization_id(request), driver_id=driver.pk, stop_id=stop_id
        )
    except Stop.DoesNotExist as exc:
        raise Http404("No such stop.") from exc
    context = {
        "section": "driver",
        "driver": driver,
        "stop": stop,
        "failure_reasons": list(failure_reason_list(organization_id=_organization_id(request))),
        "app_config": _app_config(
            request, stops=_stop_rows([stop]), routes=[stop.route], phone=None
        ),
    }
    return render(request, "deliveries/driver/stop.html", context)


def _float(data: Any, name: str) -> float | None:
    raw = data.get(name)
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise ValidationError({name: "Must be a number."}) from exc
    if value != value or value in (float("inf"), float("-inf")):
        raise ValidationError({name: "Must be a finite number."})
    return value


def _int(data: Any, name: str) -> int | None:
    raw = data.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError) as exc:
        raise ValidationError({name: "Must be a whole number."}) from exc


def _captured_at(raw: Any) -> dt.datetime | None:
    if raw in (None, ""):
        return None
    parsed = parse_datetime(str(raw))
    if parsed is None or timezone.is_naive(parsed):
        raise ValidationError({"captured_at": "Give an ISO 8601 time with its offset."})
    if parsed > timezone.now() + CAPTURED_AT_MAX_AHEAD:
        raise ValidationError({"captured_at": "The phone's clock is ahead; check its time."})
    return parsed


def action_from_request(request: HttpRequest) -> DriverAction:
    """Decode a JSON or multipart action; ValidationError for anything malformed."""
    data: Any
    files: dict[str, UploadedFile] = {}
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise ValidationError("Malformed JSON.") from exc
        if not isinstance(data, dict):
            raise ValidationError("The body must be a JSON object.")
    else:
        data = request.POST
        for name in ("photo", "signature"):
            upload = request.FILES.get(name)
            if isinstance(upload, UploadedFile):
                files[name] = upload
    kind = str(data.get("kind") or "")
    if kind not in ActionKind.ALL:
        raise ValidationError({"kind": f"One of {', '.join(ActionKind.ALL)}."})
    return DriverAction(
        kind=kind,
        stop_id=_int(data, "stop_id"),
        route_id=_int(data, "route_id"),
        reason_code=str(data.get("reason_code") or ""),
        recipient_name=str(data.get("recipient_name") or ""),
        notes=str(data.get("notes") or "")[:2000],
        latitude=_float(data, "latitude"),
        longitude=_float(data, "longitude"),
        accuracy_m=_float(data, "accuracy_m"),
        captured_at=_captured_at(data.get("captured_at")),
        files=files,
    )


@require_POST
def driver_actions(request: HttpRequest) -> JsonResponse:
    """One queued action of the driver app. Answers JSON, never a login redirect: the queue
    keeps an action on 401/403 (sign in again) and drops it only on a definite answer."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Sign in again to send your actions."}, status=401)
    membership = getattr(request, "membership", None)
    if membership is None or membership.role != Role.DRIVER:
        return JsonResponse({"detail": "Only drivers can send driver actions."}, status=403)
    driver = _driver(request)
    if driver is None:
        return JsonResponse({"detail": "Your login is not linked to a driver."}, status=403)
    try:
        result = driver_services.driver_action_apply(
            organization_id=_organization_id(request),
            user=request.user,
            driver_id=driver.pk,
            key=request.headers.get("Idempotency-Key", ""),
            action=action_from_request(request),
        )
    except REFUSALS as exc:  # a malformed action, a missing or foreign key: not stored
        return error_json(exc)
    response = JsonResponse(result.body, status=result.status)
    if result.replayed:
        response["Idempotent-Replayed"] = "true"
    return response
