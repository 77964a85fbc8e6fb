"""The demo seed (demo/seed.py, demo/tenants.py): every published login works, and the demo
drivers find today's route in the driver app."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_scopes import scopes_disabled

from demo.orders import demo_routes_seed
from demo.seed import demo_seed
from demo.tenants import DEMO_ORGANIZATIONS, DEMO_PASSWORD, demo_logins
from tenancy.models import Organization
from tests.conftest import login


def test_demo_logins_all_work(db: object) -> None:
    demo_seed()
    for username, _, _ in demo_logins():
        client = Client()
        response = client.post("/login/", {"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, username


@pytest.mark.django_db
def test_the_demo_drivers_have_a_route_today_once_demo_routes_exist() -> None:
    demo_seed()
    for spec in DEMO_ORGANIZATIONS:
        with scopes_disabled():
            organization = Organization.objects.get(slug=spec.slug)
            user = get_user_model().objects.get(username=f"{spec.prefix}-driver")
        demo_routes_seed(organization)
        response = login(user).get("/driver/")
        assert response.status_code == 200
        assert response.context["routes"], f"{user} has no route today"
        assert response.context["stops"]
        assert "No route for you today" not in response.content.decode()


@pytest.mark.django_db
def test_the_seed_installs_the_default_alert_rules_once_also_for_an_old_demo() -> None:
    from alerts.defaults import DEFAULT_RULES
    from alerts.models import AlertRule

    demo_seed()  # the test settings create organizations without rules: like a .data from before
    demo_seed()  # idempotent
    with scopes_disabled():
        for spec in DEMO_ORGANIZATIONS:
            rules = AlertRule.objects.filter(organization__slug=spec.slug)
            assert sorted(rules.values_list("name", flat=True)) == sorted(
                name for name, *_ in DEFAULT_RULES
            )
            # The demo's offline and unplanned-stop alerts also email (visible in the sink).
            assert "email" in rules.get(name="Vehicle offline").channels
            assert rules.get(name="Speeding").channels == ["in_app"]
        dispatcher = get_user_model().objects.get(
            username=f"{DEMO_ORGANIZATIONS[0].prefix}-dispatcher"
        )
        assert dispatcher.email.endswith("@demo.doorstep.example")


@pytest.mark.django_db
def test_the_demo_service_areas_hold_the_whole_road_network_and_replace_the_old_squares() -> None:
    from shapely.geometry import Point, shape

    from demo.simulator.roads import network_for_hub, offset
    from demo.tenants import legacy_service_area
    from fleet.models import Hub, Zone

    demo_seed()
    with scopes_disabled():
        hub = Hub.objects.get(code=DEMO_ORGANIZATIONS[0].hubs[0].code)
        others = list(Hub.objects.filter(organization=hub.organization).exclude(pk=hub.pk))
        zone = Zone.objects.get(hub=hub, kind=Zone.Kind.SERVICE_AREA)
        area = shape(zone.geometry)
        network = network_for_hub(hub, others)
        # Every junction (and so every road between them) is well inside: 250 m around it too.
        for lat, lon in network.nodes.values():
            for bearing in range(0, 360, 45):
                assert area.contains(Point(*reversed(offset(lat, lon, bearing, 250.0))))
        # ... which the old 3 km square was not; a .data seeded with it gets the new shape.
        square = shape(legacy_service_area(hub))
        assert not all(square.contains(Point(lon, lat)) for lat, lon in network.nodes.values())
        Zone.objects.filter(pk=zone.pk).update(geometry=legacy_service_area(hub))
    demo_seed()
    with scopes_disabled():
        assert Zone.objects.get(pk=zone.pk).geometry == zone.geometry
