"""The live map's details panel and area list in Chromium against a real Daphne: a vehicle on
its route shows the route, its progress, the next stop and its ETA (deliveries' today.json);
the panel's body follows the live feed; a hub-scoped dispatcher sees only their hubs' zones."""

from __future__ import annotations

import datetime as dt
import re
import time
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import Browser, Page, expect

from deliveries.models import Route
from fleet.models import RejectedFix
from tenancy.models import Role
from tests.conftest import Tenant, build_tenant
from tests.deliveries.test_vehicle_route_today import route_of_three
from tests.factories import PASSWORD, HubFactory, ZoneFactory, square_polygon

from .conftest import VIEWPORT, block_tiles, csp_violations, map_base_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    tenant = build_tenant("Live")
    user = tenant.users[Role.DISPATCHER]
    user.first_name, user.last_name = "Dana", "Visser"
    user.save(update_fields=["first_name", "last_name"])
    return tenant


@pytest.fixture
def live_page(chromium: Browser, daphne: str) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT, base_url=daphne)
    context.set_default_timeout(15_000)
    page = context.new_page()
    block_tiles(page)
    blocked = csp_violations(page)
    yield page
    context.close()
    assert blocked == [], blocked


def report(daphne: str, tenant: Tenant, *, lat: float, lon: float, knots: float) -> None:
    response = httpx.get(
        f"{daphne}/ingest/osmand/",
        params={"id": tenant.device.identifier, "lat": lat, "lon": lon, "speed": knots,
                "bearing": 45, "timestamp": int(time.time())},
    )  # fmt: skip
    assert response.status_code == 200, response.text


def sign_in(page: Page, username: str) -> None:
    page.goto("/map/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/map/"))


def test_the_details_panel_shows_the_route_and_follows_the_live_feed(
    live_page: Page, daphne: str, tenant: Tenant, screenshot: Callable[[Page, str], Path]
) -> None:
    page = live_page
    route, _ = route_of_three(tenant)
    report(daphne, tenant, lat=52.3700, lon=4.8900, knots=10)
    sign_in(page, tenant.users[Role.DISPATCHER].username)
    # The person's name in the top bar, not the username.
    expect(page.locator(".topbar .user__name")).to_have_text("Dana Visser")
    page.select_option("#map-filters [name=interval]", "1")
    row = page.locator(f'#vehicle-list [data-plate="{tenant.vehicle.plate}"]')
    row.click()

    panel = page.locator("#vehicle-details")
    route_box = panel.locator("[data-vehicle-route]")
    expect(route_box.locator(".vehicle-route__name")).to_have_text(f"Route #{route.pk}")
    expect(route_box).to_contain_text("In progress")
    expect(route_box).to_contain_text(tenant.hub.name)
    expect(route_box).to_contain_text("1 of 3 stops done")
    expect(route_box.locator(".vehicle-route__stop")).to_have_text("Stop 2 · NEXT-0002")
    expect(route_box.locator(".vehicle-route__address")).to_have_text("Prinsengracht 263")
    expect(route_box.locator(".vehicle-route__window")).to_have_text(
        re.compile(r"^Window \d\d:\d\d\u2013\d\d:\d\d$")
    )
    # The organization's clock (Europe/Amsterdam), labelled.
    expect(route_box.locator(".vehicle-route__eta")).to_have_text(
        re.compile(r"^ETA \d\d:\d\d CES?T$")
    )
    expect(route_box.locator(".vehicle-route__late")).to_have_text("Late risk")
    expect(panel).not_to_contain_text("deliveries arrive")
    body = panel.locator("#vehicle-details-body")
    expect(body.locator('[data-live="position"]')).to_have_text("52.37000, 4.89000")
    expect(body.locator('[data-live="speed"]')).to_have_text("19 km/h")
    screenshot(page, "live_map_details_route")

    # A new fix: the body follows within the refresh interval (the fragment itself is only
    # re-fetched every 10 s), like the header above it.
    report(daphne, tenant, lat=52.3712, lon=4.8915, knots=25)
    expect(body.locator('[data-live="position"]')).to_have_text("52.37120, 4.89150", timeout=5000)
    expect(body.locator('[data-live="speed"]')).to_have_text("46 km/h")
    expect(panel.locator("#vehicle-details-pulse")).to_contain_text("46 km/h")
    expect(body.locator('[data-live="fix-clock"]')).to_have_text(
        re.compile(r"^\w{3} \d{1,2} \w{3}, \d\d:\d\d:\d\d CES?T$")
    )
    screenshot(page, "live_map_details_followed")

    # The link opens the route's page.
    route_box.get_by_role("link", name="Open route").click()
    expect(page).to_have_url(re.compile(rf"/routes/{route.pk}/$"))


def test_no_route_today_reads_plainly(live_page: Page, daphne: str, tenant: Tenant) -> None:
    with scopes_disabled():
        Route.objects.filter(vehicle=tenant.vehicle).update(
            date=timezone.localdate() - dt.timedelta(days=2)
        )
    report(daphne, tenant, lat=52.3700, lon=4.8900, knots=10)
    sign_in(live_page, tenant.users[Role.SUPPORT].username)
    live_page.locator(f'#vehicle-list [data-plate="{tenant.vehicle.plate}"]').click()
    expect(live_page.locator("[data-vehicle-route]")).to_contain_text("No route today")
    expect(live_page.locator("[data-vehicle-route]")).not_to_contain_text("(")


def test_a_hub_scoped_dispatcher_sees_only_their_hubs_zones(
    live_page: Page, daphne: str, tenant: Tenant, screenshot: Callable[[Page, str], Path]
) -> None:
    noord = HubFactory.create(
        organization=tenant.organization, name="Noord Depot", latitude=52.40, longitude=4.92
    )
    ZoneFactory.create(
        organization=tenant.organization, name="Noord yard", hub=noord,
        geometry=square_polygon(52.40, 4.92, 0.8),
    )  # fmt: skip
    ZoneFactory.create(
        organization=tenant.organization, name="City low-emission", hub=None,
        geometry=square_polygon(52.355, 4.905, 0.9),
    )  # fmt: skip
    user = tenant.users[Role.DISPATCHER]
    with scopes_disabled():
        user.memberships.get().hubs.set([tenant.hub])
        RejectedFix.objects.create(
            organization=tenant.organization, device=tenant.device, received_at=timezone.now(),
            reason=RejectedFix.Reason.TOO_OLD, detail="169306452 s old",
        )  # fmt: skip
    sign_in(live_page, user.username)
    options = live_page.locator("#zone-filter option")
    expect(options).to_have_text(["Anywhere", re.compile("City low-emission"),
                                  re.compile(tenant.zone.name)])  # fmt: skip
    names = live_page.evaluate(
        "() => { const names = []; window.doorstepMap.map.eachLayer(layer => {"
        " const name = layer.feature && layer.feature.properties && layer.feature.properties.name;"
        " if (name) names.push(name); }); return names.sort(); }"
    )
    assert names == sorted(["City low-emission", tenant.zone.name])
    assert map_base_drawn(live_page, "#map") == "vector"
    screenshot(live_page, "live_map_hub_scoped_zones")

    # Data health, linked from the map, reads ages as durations.
    live_page.locator("#data-health-link").click()
    expect(live_page.get_by_text("1,959 days old")).to_be_visible()
    expect(live_page.get_by_text("169306452 s")).to_have_count(0)


def test_the_panel_opens_the_vehicles_day_in_one_click(
    live_page: Page, daphne: str, tenant: Tenant, screenshot: Callable[[Page, str], Path]
) -> None:
    report(daphne, tenant, lat=52.3700, lon=4.8900, knots=10)
    sign_in(live_page, tenant.users[Role.SUPPORT].username)
    live_page.locator(f'#vehicle-list [data-plate="{tenant.vehicle.plate}"]').click()
    link = live_page.locator("#vehicle-details [data-testid=vehicle-history-link]")
    expect(link).to_have_text("Today's track and playback")
    screenshot(live_page, "live_map_details_history_link")
    link.click()
    today = dt.datetime.now(zoneinfo.ZoneInfo(tenant.organization.timezone)).date()
    expect(live_page).to_have_url(
        re.compile(rf"/history/vehicles/{tenant.vehicle.pk}/{today.isoformat()}/$")
    )
    expect(live_page.get_by_test_id("history-page")).to_be_visible()
