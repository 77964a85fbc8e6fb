"""The customer's public tracking page and its polling endpoint: no login, the code is the key.

Both ignore who is signed in: what a link shows depends on its code alone. Unknown and malformed
codes get the same friendly 404, so the page gives no help to someone guessing codes; the rate
limiter makes guessing slow on top of ~128 bits of randomness.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tenancy.api.ratelimit import rate_limited
from tenancy.context import tenant_context

from ..selectors.tracking import OrderTracking, order_tracking_get, tracking_order_locate

POLL_SECONDS = 30


def _private(response: HttpResponse) -> HttpResponse:
    # The link is a secret: keep it out of caches, other sites' logs and search engines.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _tracking(code: str) -> OrderTracking | None:
    # The request runs with no organization; the code names one, whose context is entered here.
    located = tracking_order_locate(code=code)
    if located is None:
        return None
    organization_id, order_id = located
    with tenant_context(organization_id):
        return order_tracking_get(organization_id=organization_id, order_id=order_id)


def _limit() -> int:
    return int(settings.TRACKING_RATE_LIMIT_PER_MINUTE)


def _page_refused(request: HttpRequest, retry_after: int) -> HttpResponse:
    context = {"retry_after": retry_after}
    return _private(render(request, "deliveries/tracking/too_many.html", context, status=429))


def _json_refused(request: HttpRequest, retry_after: int) -> HttpResponse:
    body = {"error": "too_many_requests", "retry_after": retry_after}
    return _private(JsonResponse(body, status=429))


@require_GET
@rate_limited(bucket="tracking", limit=_limit, refused=_page_refused)
def tracking_page(request: HttpRequest, code: str) -> HttpResponse:
    tracking = _tracking(code)
    if tracking is None:
        return _private(render(request, "deliveries/tracking/not_found.html", status=404))
    public = tracking.as_json()
    context = {
        "tracking": tracking,
        "poll_seconds": POLL_SECONDS,
        "map_config": {
            "tileUrl": settings.MAP_TILE_URL,
            "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
            "statusUrl": reverse("deliveries:tracking_status", kwargs={"code": tracking.code}),
            "pollSeconds": POLL_SECONDS,
            "vehicle": public["vehicle"],
            "destination": public["destination"],
        },
    }
    return _private(render(request, "deliveries/tracking/page.html", context))


@require_GET
@rate_limited(bucket="tracking", limit=_limit, refused=_json_refused)
def tracking_status(request: HttpRequest, code: str) -> HttpResponse:
    tracking = _tracking(code)
    if tracking is None:
        return _private(JsonResponse({"error": "not_found"}, status=404))
    return _private(JsonResponse(tracking.as_json()))
