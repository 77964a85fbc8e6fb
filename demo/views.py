"""The demo's page endpoints: the road network the simulator drives, as the live map's vector base
layer where map tiles cannot load (settings.MAP_BASE_LAYER_URL points here)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from fleet import selectors
from tenancy.models import Role
from tenancy.permissions import CONSOLE_ROLES, role_required

from .simulator.roads import roads_geojson


@require_GET
@role_required(*CONSOLE_ROLES, Role.DRIVER)
def roads(request: HttpRequest) -> HttpResponse:
    """The demo road network around this organization's hubs, drawn when no tiles load (on every
    map page of the organization's members: the console's and the driver app's)."""
    organization_id = request.membership.organization_id  # type: ignore[attr-defined]
    hubs = selectors.hub_list(organization_id=organization_id)
    response = JsonResponse(roads_geojson(hubs))
    response["Cache-Control"] = "private, max-age=3600"
    return response
