"""The URL names console/map.html reverses, for bench/map_page.py's Django-less rendering.

Only reversed, never routed: MapPageServer answers the requests itself.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def _not_served(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=404)


fleet_patterns = [path("map/data-health/", _not_served, name="data_health")]
urlpatterns = [path("", include((fleet_patterns, "fleet")))]
