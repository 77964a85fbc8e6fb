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
