"""The map page and its JSON endpoints: saved views, vehicle details, data health."""

from __future__ import annotations

import json

import pytest
from django_scopes import scopes_disabled

from fleet.models import RejectedFix, SavedView, SavedViewDefault
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def post_json(client, url: str, body: object, method: str = "post"):  # type: ignore[no-untyped-def]
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def test_map_page_carries_its_configuration(tenant_a: Tenant) -> None:
    response = login(tenant_a.users[Role.DISPATCHER]).get("/map/")
    assert response.status_code == 200
    config = response.context["map_config"]
    assert config["wsPath"] == "/ws/live/"
    assert [h["name"] for h in config["hubs"]] == [tenant_a.hub.name]
    assert config["zones"]["features"][0]["properties"]["name"] == tenant_a.zone.name
    assert config["savedViews"][0]["name"] == tenant_a.saved_view.name
    assert 'id="map-config"' in response.content.decode()


def test_create_saved_view_and_make_it_default(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.SUPPORT])
    response = post_json(
        client,
        "/map/views/",
        {
            "name": "Late vans",
            "filters": {"status": ["idle", "stopped"], "stale_minutes": 10},
            "refresh_seconds": 15,
            "shared": False,
            "make_default": True,
        },
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["is_default"] and created["mine"] and created["refresh_seconds"] == 15
    page = client.get("/map/").context["map_config"]
    assert [v["name"] for v in page["savedViews"] if v["is_default"]] == ["Late vans"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "filters": {}},
        {"name": "x", "filters": {"status": ["flying"]}},
        {"name": "x", "filters": {}, "refresh_seconds": 7},
        {"name": "x", "filters": {"polygon": {"type": "Point", "coordinates": [1, 2]}}},
    ],
)
def test_invalid_saved_view_is_a_400(tenant_a: Tenant, body: dict[str, object]) -> None:
    response = post_json(login(tenant_a.users[Role.DISPATCHER]), "/map/views/", body)
    assert response.status_code == 400
    assert "errors" in response.json()


def test_private_views_stay_private_and_only_owners_delete(tenant_a: Tenant) -> None:
    owner = login(tenant_a.users[Role.DISPATCHER])
    private = post_json(owner, "/map/views/", {"name": "Mine only", "filters": {}}).json()
    colleague = UserFactory.create()
    MembershipFactory.create(
        user=colleague, organization=tenant_a.organization, role=Role.DISPATCHER
    )
    other = login(colleague)
    names = [v["name"] for v in other.get("/map/views/").json()["views"]]
    assert "Mine only" not in names and tenant_a.saved_view.name in names
    assert other.get(f"/map/views/{private['id']}/").status_code == 404
    # A shared view can be made one's default by a colleague, but not deleted by them.
    shared = tenant_a.saved_view.pk
    assert post_json(other, f"/map/views/{shared}/", {"make_default": True}).json()["is_default"]
    assert other.delete(f"/map/views/{shared}/").status_code == 403
    assert owner.delete(f"/map/views/{private['id']}/").status_code == 204
    with scopes_disabled():
        assert not SavedView.objects.filter(pk=private["id"]).exists()
        assert SavedViewDefault.objects.filter(user=colleague, view_id=shared).exists()


def test_vehicle_detail_fragment(tenant_a: Tenant) -> None:
    response = login(tenant_a.users[Role.DISPATCHER]).get(f"/map/vehicles/{tenant_a.vehicle.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert tenant_a.vehicle.plate in body and tenant_a.driver.name in body
    assert "Never reported" in body


def test_data_health_counts_refusals(tenant_a: Tenant) -> None:
    response = login(tenant_a.users[Role.DISPATCHER]).get("/map/data-health/")
    assert response.status_code == 200
    body = response.content.decode()
    assert tenant_a.rejected_fix.detail in body
    assert 'data-reason="null_island">1<' in body


def test_data_health_shows_how_often_a_refused_fix_was_sent(tenant_a: Tenant) -> None:
    with scopes_disabled():
        RejectedFix.objects.filter(pk=tenant_a.rejected_fix.pk).update(repeats=4)
    body = login(tenant_a.users[Role.DISPATCHER]).get("/map/data-health/").content.decode()
    assert 'data-repeats="4">4 ' in body
    assert 'data-reason="null_island">4<' in body  # every time it was sent counts


def test_data_health_shows_ages_as_durations(tenant_a: Tenant) -> None:
    # The filters write whole seconds ("169306452 s old"); people read days and minutes.
    with scopes_disabled():
        RejectedFix.objects.filter(pk=tenant_a.rejected_fix.pk).update(detail="169306452 s old")
    body = login(tenant_a.users[Role.DISPATCHER]).get("/map/data-health/").content.decode()
    assert ">1,959 days old</td>" in body
    assert 'title="169306452 s old"' in body  # the exact figure stays at hand


def test_map_page_links_data_health_and_carries_the_organization_time_zone(
    tenant_a: Tenant,
) -> None:
    body = login(tenant_a.users[Role.DISPATCHER]).get("/map/").content.decode()
    assert 'href="/map/data-health/" id="data-health-link"' in body
    timezone = json.dumps(tenant_a.organization.timezone)
    assert f'<script id="map-timezone" type="application/json">{timezone}</script>' in body
