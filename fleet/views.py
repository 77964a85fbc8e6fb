"""Live map pages and their small JSON endpoints (htmx/fetch). Logic lives in selectors/services."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods

from tenancy.permissions import CONSOLE_ROLES, role_required
from tenancy.selectors import membership_hub_ids

from . import selectors, services
from .basemap import base_layer_url
from .models import RejectedFix, SavedView, Vehicle


def _context(request: HttpRequest) -> tuple[int, int, list[int]]:
    membership = request.membership  # type: ignore[attr-defined]
    user_id = int(request.user.pk or 0)
    return membership.organization_id, user_id, membership_hub_ids(membership=membership)


def _saved_view_json(view: SavedView, *, user_id: int, default_id: int | None) -> dict[str, Any]:
    return {
        "id": view.pk,
        "name": view.name,
        "shared": view.shared,
        "mine": view.owner_id == user_id,
        "filters": view.filters,
        "refresh_seconds": view.refresh_seconds,
        "is_default": view.pk == default_id,
    }


def _url_or_empty(name: str, **kwargs: Any) -> str:
    """A URL of an app above fleet, by name only (fleet imports nothing of deliveries); empty
    when that app is not installed, and the page then leaves the feature out."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return ""


@role_required(*CONSOLE_ROLES)
def map_page(request: HttpRequest) -> HttpResponse:
    organization_id, user_id, hub_ids = _context(request)
    hubs = selectors.hub_list(organization_id=organization_id, hub_ids=hub_ids or None)
    default_id = selectors.saved_view_default_id(organization_id=organization_id, user_id=user_id)
    views = selectors.saved_view_list(organization_id=organization_id, user_id=user_id)
    center = (
        [sum(h.latitude for h in hubs) / len(hubs), sum(h.longitude for h in hubs) / len(hubs)]
        if hubs
        else [52.37, 4.89]
    )
    map_config = {
        "wsPath": "/ws/live/",
        "tileUrl": settings.MAP_TILE_URL,
        "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
        "center": center,
        "zoom": 13,
        "hubs": [{"id": h.pk, "name": h.name, "lat": h.latitude, "lon": h.longitude} for h in hubs],
        # A hub-scoped dispatcher sees their hubs' zones and the org-wide ones only.
        "zones": selectors.zone_feature_collection(
            organization_id=organization_id, hub_ids=hub_ids or None
        ),
        "tags": selectors.vehicle_tag_list(organization_id=organization_id),
        "roadsUrl": base_layer_url(),
        "savedViews": [_saved_view_json(v, user_id=user_id, default_id=default_id) for v in views],
        "viewsUrl": "/map/views/",
        "viewUrlTemplate": "/map/views/0/",
        "vehicleUrlTemplate": "/map/vehicles/0/",
        "vehicleRouteUrlTemplate": _url_or_empty("deliveries:vehicle_route_today", vehicle_id=0),
    }
    return render(request, "console/map.html", {"section": "map", "map_config": map_config})


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise ValidationError("Body must be JSON.") from exc
    if not isinstance(body, dict):
        raise ValidationError("Body must be a JSON object.")
    return body


def _error(exc: ValidationError, status: int = 400) -> JsonResponse:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
    return JsonResponse({"errors": detail}, status=status)


@require_http_methods(["GET", "POST"])
@role_required(*CONSOLE_ROLES)
def saved_views(request: HttpRequest) -> HttpResponse:
    organization_id, user_id, hub_ids = _context(request)
    if request.method == "POST":
        try:
            body = _json_body(request)
            view = services.saved_view_create(
                organization_id=organization_id,
                owner_id=user_id,
                name=body.get("name", ""),
                filters=body.get("filters") or {},
                refresh_seconds=body.get("refresh_seconds", 5),
                shared=bool(body.get("shared")),
                make_default=bool(body.get("make_default")),
                hub_ids=hub_ids or None,
            )
        except ValidationError as exc:
            return _error(exc)
        default_id = selectors.saved_view_default_id(
            organization_id=organization_id, user_id=user_id
        )
        return JsonResponse(
            _saved_view_json(view, user_id=user_id, default_id=default_id), status=201
        )
    default_id = selectors.saved_view_default_id(organization_id=organization_id, user_id=user_id)
    views = selectors.saved_view_list(organization_id=organization_id, user_id=user_id)
    return JsonResponse(
        {"views": [_saved_view_json(v, user_id=user_id, default_id=default_id) for v in views]}
    )


@require_http_methods(["GET", "POST", "DELETE"])
@role_required(*CONSOLE_ROLES)
def saved_view_detail(request: HttpRequest, view_id: int) -> HttpResponse:
    organization_id, user_id, _ = _context(request)
    view = (
        selectors.saved_view_list(organization_id=organization_id, user_id=user_id)
        .filter(pk=view_id)
        .first()
    )
    if view is None:
        raise Http404("No such view.")
    if request.method == "DELETE":
        services.saved_view_delete(organization_id=organization_id, user_id=user_id, view=view)
        return HttpResponse(status=204)
    if request.method == "POST":
        try:
            body = _json_body(request)
        except ValidationError as exc:
            return _error(exc)
        if body.get("make_default"):
            services.saved_view_make_default(
                organization_id=organization_id, user_id=user_id, view=view
            )
    default_id = selectors.saved_view_default_id(organization_id=organization_id, user_id=user_id)
    return JsonResponse(_saved_view_json(view, user_id=user_id, default_id=default_id))


@require_GET
@role_required(*CONSOLE_ROLES)
def vehicle_detail(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    organization_id, _, hub_ids = _context(request)
    try:
        vehicle = selectors.vehicle_get(
            organization_id=organization_id, vehicle_id=vehicle_id, hub_ids=hub_ids or None
        )
    except Vehicle.DoesNotExist as exc:
        raise Http404("No such vehicle.") from exc
    state = selectors.vehicle_state_get(organization_id=organization_id, vehicle_id=vehicle.pk)
    return render(request, "fleet/_vehicle_detail.html", {"vehicle": vehicle, "state": state})


@require_GET
@role_required(*CONSOLE_ROLES)
def data_health(request: HttpRequest) -> HttpResponse:
    """What the position filters refused, and why: the first place to look when a van 'jumps'."""
    organization_id, _, _ = _context(request)
    # The middleware entered the request's organization; the filter names it as well.
    refused = RejectedFix.objects.filter(organization_id=organization_id)
    recent = list(refused.select_related("device").order_by("-received_at")[:200])
    by_reason = {
        row["reason"]: row["count"]
        # Resends of one refused fix share a row; count every time it was sent.
        for row in refused.values("reason").annotate(count=Sum("repeats"))
    }
    reasons = [
        (value, label, by_reason.get(value, 0)) for value, label in RejectedFix.Reason.choices
    ]
    return render(
        request,
        "fleet/data_health.html",
        {"section": "map", "recent": recent, "reasons": reasons, "total": sum(by_reason.values())},
    )
