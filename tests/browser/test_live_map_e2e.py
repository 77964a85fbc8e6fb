"""End to end in Chromium against a real Daphne: a vehicle reports over OsmAnd and moves on the
map, a filter hides it, a saved view brings it back."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import Browser, Page, expect

from fleet.models import SavedView
from tenancy.models import Role
from tests.conftest import Tenant, build_tenant
from tests.factories import PASSWORD

from .conftest import VIEWPORT, csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    tenant = build_tenant("Live")
    with scopes_disabled():
        SavedView.objects.create(
            organization=tenant.organization, owner=tenant.users[Role.DISPATCHER],
            name="Everything", filters={}, refresh_seconds=1,
        )  # fmt: skip
    return tenant


@pytest.fixture
def live_page(chromium: Browser, daphne: str) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT, base_url=daphne)
    context.set_default_timeout(15_000)
    page = context.new_page()
    blocked = csp_violations(page)
    yield page
    context.close()
    assert blocked == [], blocked  # the live map (and its websocket) work under the CSP


def report(daphne: str, tenant: Tenant, *, lat: float, lon: float, ago: int = 0) -> None:
    response = httpx.get(
        f"{daphne}/ingest/osmand/",
        params={"id": tenant.device.identifier, "lat": lat, "lon": lon, "speed": 20,
                "bearing": 45, "timestamp": int(time.time()) - ago},
    )  # fmt: skip
    assert response.status_code == 200, response.text


def vehicle_lat(page: Page, vehicle_id: int) -> float | None:
    return page.evaluate("id => window.doorstepMap?.vehicles?.get(id)?.lat ?? null", vehicle_id)


def test_vehicle_moves_filter_hides_saved_view_restores(
    live_page: Page, daphne: str, tenant: Tenant, screenshot: Callable[[Page, str], Path]
) -> None:
    page = live_page
    report(daphne, tenant, lat=52.3700, lon=4.8900, ago=5)
    page.goto("/map/")
    page.get_by_label("Username").fill(tenant.users[Role.DISPATCHER].username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/map/"))
    page.select_option("#map-filters [name=interval]", "1")
    row = page.locator(f'#vehicle-list [data-plate="{tenant.vehicle.plate}"]')
    expect(row).to_be_visible()
    expect(page.locator("[data-connection-state]")).to_have_attribute(
        "data-connection-state", "live"
    )

    # It moves: a new fix through the OsmAnd endpoint reaches the map within the interval.
    report(daphne, tenant, lat=52.3712, lon=4.8915)
    page.wait_for_function(
        "([id, lat]) => window.doorstepMap.vehicles.get(id)?.lat === lat",
        arg=[tenant.vehicle.pk, 52.3712],
    )
    screenshot(page, "live_map_e2e_moving")

    # A filter hides it: only stopped vehicles, and ours is moving.
    page.locator("#map-filters [name=status][value=moving]").uncheck()
    expect(row).to_have_count(0)
    assert vehicle_lat(page, tenant.vehicle.pk) is None

    # The saved view (no filters) brings it back.
    page.select_option("#saved-view-select", label="Everything")
    expect(row).to_be_visible()
    assert vehicle_lat(page, tenant.vehicle.pk) == 52.3712
    screenshot(page, "live_map_e2e_restored")
