"""The webhook console: the organization's endpoints, the delivery log, and replaying a delivery.

Endpoints are created, edited and rotated in the Django admin; this page is for watching them.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tenancy.models import Role
from tenancy.permissions import role_required

from ..filtersets import WebhookDeliveryFilterSet
from ..models import WebhookDelivery, WebhookEvent
from ..selectors.webhooks import webhook_delivery_get, webhook_delivery_list, webhook_endpoint_list
from ..services.webhooks import webhook_delivery_replay
from .requests import is_partial

WEBHOOK_ROLES = (Role.ADMIN, Role.MANAGER)
PAGE_SIZE = 50


def _organization_id(request: HttpRequest) -> int:
    return request.membership.organization_id  # type: ignore[attr-defined]


def _log_context(request: HttpRequest) -> dict[str, Any]:
    organization_id = _organization_id(request)
    filterset = WebhookDeliveryFilterSet(
        request.GET,
        queryset=webhook_delivery_list(organization_id=organization_id),
        request=request,
    )
    valid = filterset.is_valid()
    page = Paginator(filterset.qs if valid else WebhookDelivery.objects.none(), PAGE_SIZE)
    deliveries = page.get_page(request.GET.get("page"))
    # Evaluated here, inside the scope, so the template touches no tenant manager.
    deliveries.object_list = list(deliveries.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "filterset": filterset,
        "deliveries": deliveries,
        "query_string": query.urlencode(),
    }


@require_GET
@role_required(*WEBHOOK_ROLES)
def webhook_list(request: HttpRequest) -> HttpResponse:
    context = _log_context(request)
    if is_partial(request):
        return render(request, "deliveries/_webhook_deliveries.html", context)
    organization_id = _organization_id(request)
    context.update(
        section="webhooks",
        endpoints=list(webhook_endpoint_list(organization_id=organization_id)),
        event_labels=dict(WebhookEvent.choices),
    )
    return render(request, "deliveries/webhooks.html", context)


@require_GET
@role_required(*WEBHOOK_ROLES)
def webhook_delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    organization_id = _organization_id(request)
    try:
        delivery = webhook_delivery_get(organization_id=organization_id, delivery_id=delivery_id)
    except WebhookDelivery.DoesNotExist as exc:
        raise Http404("No such webhook delivery.") from exc
    replays = list(delivery.replays.select_related("endpoint"))
    return render(
        request,
        "deliveries/webhook_delivery_detail.html",
        {
            "section": "webhooks",
            "delivery": delivery,
            "replays": replays,
            "payload_json": json.dumps(delivery.payload, indent=2, sort_keys=True),
        },
    )


@require_POST
@role_required(*WEBHOOK_ROLES)
def webhook_delivery_replay_view(request: HttpRequest, delivery_id: int) -> HttpResponse:
    try:
        replay = webhook_delivery_replay(
            organization_id=_organization_id(request), delivery_id=delivery_id
        )
    except WebhookDelivery.DoesNotExist as exc:
        raise Http404("No such webhook delivery.") from exc
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_back(request))
    messages.success(
        request, f"Replay queued as event {replay.event_id} to {replay.endpoint.name}."
    )
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    # Back to the log with the filters the user had; re-encoded, so it stays a query string.
    query = QueryDict(request.POST.get("return_query", "")).urlencode()
    url = reverse("deliveries:webhook_list")
    return f"{url}?{query}" if query else url
