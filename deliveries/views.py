"""The support agent's order lookup: search, results, and one order's status and timeline."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from fleet.models import VehicleState
from tenancy.permissions import CONSOLE_ROLES, role_required
from tenancy.selectors import membership_hub_ids

from . import selectors
from .models import Order, Stop

RESULTS_LIMIT = 50


def _scope(request: HttpRequest) -> tuple[int, list[int] | None]:
    membership = request.membership  # type: ignore[attr-defined]
    return membership.organization_id, membership_hub_ids(membership=membership) or None


def _tracking_url(request: HttpRequest, order: Order) -> str:
    # The customer's public tracking page: the code is the secret. reverse() keeps the link
    # right wherever the URLconf (or a SCRIPT_NAME prefix) puts the page.
    path = reverse("deliveries:tracking_page", kwargs={"code": order.tracking_code})
    return request.build_absolute_uri(path)


def _vehicle_state(stop: Stop | None) -> VehicleState | None:
    vehicle = stop.route.vehicle if stop else None
    try:
        return vehicle.state if vehicle else None
    except VehicleState.DoesNotExist:  # the vehicle never reported a position
        return None


def _lookup_context(request: HttpRequest) -> dict[str, Any]:
    organization_id, hub_ids = _scope(request)
    # The form's "any" choices arrive as empty values; they mean "no filter", not "invalid".
    data = request.GET.copy()
    for key in list(data):
        values = [value for value in data.getlist(key) if value.strip()]
        if values:
            data.setlist(key, values)
        else:
            del data[key]
    lookup = selectors.order_lookup(organization_id=organization_id, hub_ids=hub_ids, data=data)
    filterset = lookup.filterset
    orders = list(lookup.orders[:RESULTS_LIMIT]) if filterset.is_valid() else []
    return {
        "section": "orders",
        "filterset": filterset,
        "short_query": lookup.short_query,
        "query": request.GET.get("q", ""),
        "orders": orders,
        "limited": len(orders) == RESULTS_LIMIT,
        "query_string": request.GET.urlencode(),
    }


@require_GET
@role_required(*CONSOLE_ROLES)
def order_list(request: HttpRequest) -> HttpResponse:
    context = _lookup_context(request)
    if request.htmx and not request.htmx.boosted:  # type: ignore[attr-defined]
        return render(request, "deliveries/_order_results.html", context)
    return render(request, "deliveries/order_list.html", context)


@require_GET
@role_required(*CONSOLE_ROLES)
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    organization_id, hub_ids = _scope(request)
    try:
        order = selectors.order_get(
            organization_id=organization_id, order_id=order_id, hub_ids=hub_ids
        )
    except Order.DoesNotExist as exc:
        raise Http404("No such order.") from exc
    stop = selectors.order_stop_current(organization_id=organization_id, order_id=order.pk)
    detail = {
        "order": order,
        "events": list(
            selectors.order_event_list(organization_id=organization_id, order_id=order.pk)
        ),
        "tracking_url": _tracking_url(request, order),
        "stop": stop,
        "route": stop.route if stop else None,
        "vehicle_state": _vehicle_state(stop),
    }
    if request.htmx and not request.htmx.boosted:  # type: ignore[attr-defined]
        return render(request, "deliveries/_order_detail.html", detail)
    return render(request, "deliveries/order_list.html", {**_lookup_context(request), **detail})
