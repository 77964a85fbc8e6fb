"""The route console in Chromium: the day's routes, then the editor — reorder, add, dispatch."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from deliveries.models import Order, Route, Stop
from deliveries.services.eta import route_etas_refresh
from deliveries.services.routes import route_create, stop_add
from tenancy.context import tenant_context
from tenancy.models import Organization
from tests.browser.conftest import block_tiles, map_base_drawn
from tests.deliveries.builders import order_build
from tests.factories import HubFactory, VehicleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def rows(page: Page) -> list[str]:
    return page.locator("[data-testid=stop-row]").evaluate_all(
        "rows => rows.map(row => row.dataset.reference)"
    )


def test_dispatcher_reorders_adds_and_dispatches_a_route(
    page: Page, member: Any, sign_in: Any, screenshot: Any, settings: Any
) -> None:
    settings.MAP_TILE_URL = ""  # no tile server in tests: the map shows the hub and stops only
    member("dana", role="dispatcher", first_name="Dana", last_name="Dispatch")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    hub = HubFactory.create(
        organization=organization, name="Amsterdam West", latitude=52.372, longitude=4.836
    )
    vehicle = VehicleFactory.create(organization=organization, hub=hub, plate="AX-VAN-07")
    with tenant_context(organization.pk):
        route = route_create(
            organization_id=organization.pk, hub_id=hub.pk, date=timezone.localdate(),
            vehicle_id=vehicle.pk, driver_id=vehicle.driver_id,
        )  # fmt: skip
    now = timezone.now().replace(microsecond=0)
    spots = [(0.010, 0.004), (0.004, 0.018), (-0.006, 0.010)]
    for number, (dlat, dlon) in enumerate(spots, 1):
        start = now - dt.timedelta(hours=1) if number == 3 else now + dt.timedelta(minutes=20)
        order = order_build(
            organization, hub, reference=f"AX-{number:04d}", customer_name=f"Customer {number}",
            address=f"{number} Canal Road", latitude=hub.latitude + dlat,
            longitude=hub.longitude + dlon, window_start=start,
            # The third window closes in five minutes: its ETA cannot make it (late risk).
            window_end=now + dt.timedelta(minutes=5) if number == 3 else start + dt.timedelta(hours=2),
        )  # fmt: skip
        with tenant_context(organization.pk):
            stop_add(organization_id=organization.pk, route_id=route.pk, order_id=order.pk)
    order_build(organization, hub, reference="AX-0099", customer_name="Walk-in Customer")
    with tenant_context(organization.pk):
        route_etas_refresh(organization_id=organization.pk, route_id=route.pk)

    sign_in("dana", next_path="/routes/")
    expect(page).to_have_url(re.compile(r"/routes/$"))
    table = page.locator("[data-testid=hub-routes]")
    expect(table.get_by_role("heading", name="Amsterdam West")).to_be_visible()
    expect(table.get_by_text("0/3 stops")).to_be_visible()
    expect(table.get_by_text("1 late risk")).to_be_visible()
    screenshot(page, "routes_list")

    table.get_by_role("link", name="AX-VAN-07").click()
    expect(page.get_by_role("heading", name="AX-VAN-07")).to_be_visible()
    assert rows(page) == ["AX-0001", "AX-0002", "AX-0003"]
    expect(
        page.locator("[data-testid=stop-row][data-reference=AX-0003]").get_by_text("Late risk")
    ).to_be_visible()
    expect(page.locator("#route-map .route-stop-marker")).to_have_count(3)

    page.get_by_role("button", name="Move AX-0001 down").click()
    expect(page.locator("[data-testid=stop-row]").first).to_have_attribute(
        "data-reference", "AX-0002"
    )
    assert rows(page) == ["AX-0002", "AX-0001", "AX-0003"]
    expect(page.get_by_text("3 stops · plan v4")).to_be_visible()
    with scopes_disabled():
        stored = list(
            Stop.objects.filter(route=route)
            .order_by("sequence")
            .values_list("order__reference", flat=True)
        )
    assert stored == ["AX-0002", "AX-0001", "AX-0003"]
    # No worker in this test reads the refresh task: the editor says its ETAs are catching up,
    # and polls; once they are refreshed (here, in the test) the stops swap in without a reload.
    pending = page.get_by_test_id("etas-pending")
    expect(pending).to_have_text("Updating ETAs for plan v4…")
    screenshot(page, "route_editor_reordered")
    first_eta = page.locator("[data-testid=stop-row]").first.locator("td").nth(3)
    with tenant_context(organization.pk):
        route_etas_refresh(organization_id=organization.pk, route_id=route.pk)
    expect(pending).to_have_count(0, timeout=10_000)
    with scopes_disabled():
        eta = Stop.objects.get(route=route, sequence=1).eta
    # AX-0002 was second when its ETA was last computed: first now, it is due sooner.
    shown = timezone.localtime(eta, zoneinfo.ZoneInfo(organization.timezone)).strftime("%H:%M")
    expect(first_eta).to_contain_text(shown)

    with scopes_disabled():
        walk_in = Order.objects.get(reference="AX-0099")
    page.get_by_label("Order to add").select_option(str(walk_in.pk))
    page.get_by_role("button", name="Add stop").click()
    expect(page.locator("[data-testid=stop-row]")).to_have_count(4)
    expect(page.locator("#route-map .route-stop-marker")).to_have_count(4)

    page.get_by_role("button", name="Dispatch").click()
    expect(page.get_by_test_id("route-status")).to_have_text("Dispatched")
    expect(page.locator("[data-testid=stop-row] .badge.delivery-out_for_delivery")).to_have_count(4)
    screenshot(page, "route_editor_dispatched")
    with scopes_disabled():
        assert Route.objects.get(pk=route.pk).status == Route.Status.DISPATCHED


def test_a_stale_editor_shows_the_conflict_instead_of_applying(
    page: Page, member: Any, sign_in: Any, screenshot: Any, settings: Any
) -> None:
    settings.MAP_TILE_URL = ""
    member("dana", role="dispatcher")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    hub = HubFactory.create(organization=organization, name="Amsterdam West")
    with tenant_context(organization.pk):
        route = route_create(
            organization_id=organization.pk, hub_id=hub.pk, date=timezone.localdate()
        )
    orders = [order_build(organization, hub, reference=f"AX-{n}") for n in (1, 2)]
    for order in orders:
        with tenant_context(organization.pk):
            stop_add(organization_id=organization.pk, route_id=route.pk, order_id=order.pk)

    sign_in("dana", next_path=f"/routes/{route.pk}/")
    expect(page.get_by_role("heading", name="Route without vehicle")).to_be_visible()
    # Meanwhile somebody else changes the plan.
    extra = order_build(organization, hub, reference="AX-3")
    with tenant_context(organization.pk):
        stop_add(organization_id=organization.pk, route_id=route.pk, order_id=extra.pk)

    page.get_by_role("button", name="Move AX-1 down").click()
    expect(page.get_by_test_id("route-error")).to_contain_text("changed meanwhile")
    # The editor now shows the current plan, untouched by the stale click.
    assert rows(page) == ["AX-1", "AX-2", "AX-3"]
    screenshot(page, "route_editor_conflict")


def test_the_route_editor_draws_the_vector_base_layer_when_tiles_cannot_load(
    page: Page, member: Any, sign_in: Any, screenshot: Any
) -> None:
    aborted = block_tiles(page)
    member("dana", role="dispatcher")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    hub = HubFactory.create(
        organization=organization, name="Amsterdam West", latitude=52.372, longitude=4.836
    )
    with tenant_context(organization.pk):
        route = route_create(
            organization_id=organization.pk, hub_id=hub.pk, date=timezone.localdate()
        )
    for number, (dlat, dlon) in enumerate([(0.010, 0.004), (0.004, 0.018)], 1):
        order = order_build(
            organization, hub, reference=f"AX-{number}",
            latitude=hub.latitude + dlat, longitude=hub.longitude + dlon,
        )  # fmt: skip
        with tenant_context(organization.pk):
            stop_add(organization_id=organization.pk, route_id=route.pk, order_id=order.pk)

    sign_in("dana", next_path=f"/routes/{route.pk}/")
    expect(page.locator("#route-map .route-stop-marker")).to_have_count(2)
    # The tiles were asked for and refused; the same roads as the live map's are drawn instead.
    assert map_base_drawn(page, "#route-map") == "vector"
    assert aborted, "the page asked for no tile"
    expect(page.locator("#route-map .leaflet-control-scale")).to_be_visible()
    page.locator("#route-map").scroll_into_view_if_needed()
    screenshot(page, "route_editor_tiles_blocked")
