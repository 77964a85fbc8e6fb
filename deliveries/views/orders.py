"""The orders screens: the support agent's lookup (search, results, one order's status and
timeline), the order form, the CSV/Excel import and the tracking link resend."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fleet.models import Driver, Hub, Vehicle, VehicleState, Zone
from tenancy.models import Role
from tenancy.permissions import CONSOLE_ROLES, role_required
from tenancy.selectors import membership_hub_ids

from ..forms import OrderForm, OrderImportForm
from ..models import DeliveryEvent, Order, Stop
from ..selectors import orders as order_selectors
from ..services import imports
from ..services import orders as order_services
from ..services.notifications import TrackingLinkNotSent, order_tracking_link_send
from .requests import is_partial, request_scope

RESULTS_LIMIT = 50


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
    organization_id, hub_ids = request_scope(request)
    # The form's "any" choices arrive as empty values; they mean "no filter", not "invalid".
    data = request.GET.copy()
    for key in list(data):
        values = [value for value in data.getlist(key) if value.strip()]
        if values:
            data.setlist(key, values)
        else:
            del data[key]
    lookup = order_selectors.order_lookup(
        organization_id=organization_id, hub_ids=hub_ids, data=data
    )
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
        "drill_down": _drill_down(filterset, organization_id) if filterset.is_valid() else [],
        "drill_down_params": [
            (name, request.GET[name])
            for name in ("vehicle", "driver", "route_from", "route_to", "hub", "zone")
            if request.GET.get(name)
        ],
    }


def _drill_down(filterset: Any, organization_id: int) -> list[tuple[str, str]]:
    """The filters a dashboard link set (vehicle, driver, route days, hub, zone), named for people:
    the page says what the list is narrowed to, so a drill-down never looks like all orders."""
    data = filterset.form.cleaned_data
    shown: list[tuple[str, str]] = []
    names = (
        ("hub", "Hub", Hub, "name"),
        ("zone", "Zone", Zone, "name"),
        ("vehicle", "Vehicle", Vehicle, "plate"),
        ("driver", "Driver", Driver, "name"),
    )
    for key, label, model, attribute in names:
        if data.get(key) is not None:
            found = model.objects.filter(organization_id=organization_id, pk=data[key]).first()
            shown.append((label, getattr(found, attribute) if found else "(unknown)"))
    start, end = data.get("route_from"), data.get("route_to")
    if start or end:
        days = f"{start or '…'} to {end or '…'}" if start != end else str(start)
        shown.append(("Route days", days))
    return shown


@require_GET
@role_required(*CONSOLE_ROLES)
def order_list(request: HttpRequest) -> HttpResponse:
    context = _lookup_context(request)
    if is_partial(request):
        return render(request, "deliveries/_order_results.html", context)
    return render(request, "deliveries/order_list.html", context)


@require_GET
@role_required(*CONSOLE_ROLES)
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    organization_id, hub_ids = request_scope(request)
    try:
        order = order_selectors.order_get(
            organization_id=organization_id, order_id=order_id, hub_ids=hub_ids
        )
    except Order.DoesNotExist as exc:
        raise Http404("No such order.") from exc
    stop = order_selectors.order_stop_current(organization_id=organization_id, order_id=order.pk)
    detail = {
        "order": order,
        "events": list(
            order_selectors.order_event_list(organization_id=organization_id, order_id=order.pk)
        ),
        "tracking_url": _tracking_url(request, order),
        "stop": stop,
        "route": stop.route if stop else None,
        "vehicle_state": _vehicle_state(stop),
    }
    if is_partial(request):
        return render(request, "deliveries/_order_detail.html", detail)
    return render(request, "deliveries/order_list.html", {**_lookup_context(request), **detail})


ORDER_WRITERS = (Role.ADMIN, Role.MANAGER, Role.DISPATCHER)
ERRORS_SHOWN = 500  # a preview listing more bad rows than this is not read; counts stay exact


def _hubs(request: HttpRequest) -> QuerySet[Hub]:
    """The hubs the user may put orders in (the request runs in the organization's context)."""
    membership = request.membership  # type: ignore[attr-defined]
    hub_ids = membership_hub_ids(membership=membership)
    hubs = Hub.objects.filter(organization_id=membership.organization_id)
    return hubs.filter(pk__in=hub_ids) if hub_ids else hubs


def _organization(request: HttpRequest) -> Any:
    return request.organization  # type: ignore[attr-defined]


def _user_id(request: HttpRequest) -> int:
    user_id = request.user.pk
    assert user_id is not None  # role_required let only signed-in users through
    return user_id


@require_http_methods(["GET", "POST"])
@role_required(*ORDER_WRITERS)
def order_new(request: HttpRequest) -> HttpResponse:
    organization = _organization(request)
    with timezone.override(zoneinfo.ZoneInfo(organization.timezone)):
        form = OrderForm(request.POST or None, hubs=_hubs(request))
        if request.method == "POST" and form.is_valid():
            data = dict(form.cleaned_data)
            hub = data.pop("hub")
            try:
                order = order_services.order_create(
                    organization_id=organization.pk,
                    hub_id=hub.pk,
                    actor=request.user,  # type: ignore[arg-type]
                    source=DeliveryEvent.Source.CONSOLE,
                    **data,
                )
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            else:
                messages.success(request, f"Order {order.reference} created.")
                return redirect("deliveries:order_detail", order_id=order.pk)
        return render(request, "deliveries/order_form.html", {"section": "orders", "form": form})


def _preview_context(preview: imports.ImportPreview, token: str) -> dict[str, Any]:
    return {
        "preview": preview,
        "token": token,
        "errors_shown": preview.errors[:ERRORS_SHOWN],
        "errors_hidden": max(0, len(preview.errors) - ERRORS_SHOWN),
        "valid_count": len(preview.valid_rows),
        "sample_rows": preview.valid_rows[:5],
    }


@require_http_methods(["GET", "POST"])
@role_required(*ORDER_WRITERS)
def order_import(request: HttpRequest) -> HttpResponse:
    """Step 1: upload and validate (POST), then show the stored preview (GET ?preview=)."""
    organization = _organization(request)
    user_id = _user_id(request)
    context: dict[str, Any] = {"section": "orders", "max_rows": imports.MAX_ROWS}
    hubs = _hubs(request)
    form = OrderImportForm(request.POST or None, request.FILES or None, hubs=hubs)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        default_hub = form.cleaned_data["default_hub"]
        try:
            preview = imports.import_validate(
                organization_id=organization.pk,
                timezone_name=organization.timezone,
                filename=upload.name,
                data=upload.read(),
                hub_ids=membership_hub_ids(membership=request.membership),  # type: ignore[attr-defined]
                default_hub_id=default_hub.pk if default_hub else None,
            )
        except imports.ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            token = imports.import_preview_store(
                preview=preview, organization_id=organization.pk, user_id=user_id
            )
            return redirect(f"{reverse('deliveries:order_import')}?preview={token}")
    token = request.GET.get("preview", "")
    if token and request.method == "GET":
        stored = imports.import_preview_get(
            organization_id=organization.pk, user_id=user_id, token=token
        )
        context["expired"] = stored is None
        if stored is not None:
            context.update(_preview_context(stored, token))
    context["form"] = form
    return render(request, "deliveries/order_import.html", context)


@require_POST
@role_required(*ORDER_WRITERS)
def order_import_commit(request: HttpRequest) -> HttpResponse:
    """Step 2: import the stored preview's valid rows, or discard it ("import nothing")."""
    organization = _organization(request)
    token = request.POST.get("token", "")
    if request.POST.get("action") != "import":
        imports.import_preview_discard(
            organization_id=organization.pk, user_id=_user_id(request), token=token
        )
        messages.success(request, "Import cancelled: nothing was imported.")
        return redirect("deliveries:order_import")
    try:
        orders = imports.order_import_commit(
            organization_id=organization.pk,
            user=request.user,  # type: ignore[arg-type]
            token=token,
        )
    except LookupError:
        messages.error(request, "This preview has expired or was already used: upload again.")
        return redirect("deliveries:order_import")
    except imports.ImportConflict as exc:
        messages.error(request, str(exc))
        return redirect("deliveries:order_import")
    messages.success(request, f"Imported {len(orders):,} orders.")
    return redirect("console:orders")


@require_GET
@role_required(*ORDER_WRITERS)
def order_import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(imports.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="doorstep-orders-template.csv"'
    return response


@require_POST
@role_required(*CONSOLE_ROLES)
def order_tracking_link_resend(request: HttpRequest, order_id: int) -> HttpResponse:
    organization = _organization(request)
    hub_ids = membership_hub_ids(membership=request.membership) or None  # type: ignore[attr-defined]
    try:
        order = order_selectors.order_get(
            organization_id=organization.pk, order_id=order_id, hub_ids=hub_ids
        )
    except Order.DoesNotExist as exc:
        raise Http404("No such order.") from exc
    try:
        address = order_tracking_link_send(
            order=order,
            tracking_url=_tracking_url(request, order),
            organization_name=organization.name,
        )
    except TrackingLinkNotSent as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Tracking link sent to {address}.")
    return redirect("deliveries:order_detail", order_id=order.pk)
