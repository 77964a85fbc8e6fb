"""A hub-scoped dispatcher's map: their hubs' zones and the org-wide ones, in the map config and
in what a saved view may name."""

from __future__ import annotations

import json

import pytest
from django_scopes import scopes_disabled

from fleet.models import Zone
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.factories import HubFactory, ZoneFactory

pytestmark = pytest.mark.django_db


def test_a_hub_scoped_dispatcher_sees_only_their_hubs_and_org_wide_zones(
    tenant_a: Tenant,
) -> None:
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Noord")
    ZoneFactory.create(organization=tenant_a.organization, name="Noord yard", hub=other_hub)
    ZoneFactory.create(organization=tenant_a.organization, name="City low-emission", hub=None)
    user = tenant_a.users[Role.DISPATCHER]
    unscoped = login(tenant_a.users[Role.ADMIN]).get("/map/").context["map_config"]
    assert {f["properties"]["name"] for f in unscoped["zones"]["features"]} == {
        tenant_a.zone.name,
        "Noord yard",
        "City low-emission",
    }
    with scopes_disabled():
        user.memberships.get().hubs.set([tenant_a.hub])
        assert Zone.objects.filter(organization=tenant_a.organization).count() == 3
    config = login(user).get("/map/").context["map_config"]
    assert {f["properties"]["name"] for f in config["zones"]["features"]} == {
        tenant_a.zone.name,
        "City low-emission",
    }
    assert config["vehicleRouteUrlTemplate"] == "/routes/vehicles/0/today.json"


def test_a_hub_scoped_dispatcher_cannot_save_a_view_on_another_hubs_zone(
    tenant_a: Tenant,
) -> None:
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Noord")
    foreign_zone = ZoneFactory.create(organization=tenant_a.organization, hub=other_hub)
    org_wide = ZoneFactory.create(organization=tenant_a.organization, hub=None)
    user = tenant_a.users[Role.DISPATCHER]
    with scopes_disabled():
        user.memberships.get().hubs.set([tenant_a.hub])
    client = login(user)

    def save(zone_id: int) -> int:
        body = json.dumps({"name": f"zone {zone_id}", "filters": {"zone": zone_id}})
        return client.post("/map/views/", body, content_type="application/json").status_code

    assert save(foreign_zone.pk) == 400
    assert save(org_wide.pk) == 201
    assert save(tenant_a.zone.pk) == 201
