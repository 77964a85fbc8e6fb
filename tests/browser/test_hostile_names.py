"""Stored XSS: a tenant whose names are HTML payloads, on every page that shows them, in Chromium
against the real Daphne (with the Content-Security-Policy every environment sends).

Each page must show the payload as text, run none of it (`window.__xss` stays undefined), build no
element from it, and log no CSP violation: the policy forbids inline script, so a violation means
either a payload got into the DOM as HTML or one of our own pages broke under the policy.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django_scopes import scope, scopes_disabled
from playwright.sync_api import Browser, BrowserContext, Page, expect

from deliveries.models import Order, Route, Stop, WebhookDelivery, WebhookEndpoint
from fleet.models import Driver, Hub, RejectedFix, SavedView, Vehicle, Zone
from tenancy.models import Organization, Role
from tests.conftest import Tenant, build_tenant
from tests.factories import PASSWORD

from .conftest import VIEWPORT, csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMG = "<img src=x onerror=window.__xss=1>"
SVG = '"><svg onload=window.__xss=1>'
SCRIPT = "<script>window.__xss=1</script>"
PLATE = "<svg onload=__xss=1>"  # plates hold 20 characters; a bare name is a global all the same

NAMES = {
    "organization": f"{SVG} Org",
    "zone": f"{IMG} Zone",
    "hub": f"{SVG} Hub",
    "vehicle": f"{SCRIPT} Van",
    "driver": f"{IMG} Driver",
    "customer": f"{SCRIPT} Customer",
    "address": f"{SVG} Street 1",
    "reference": f"{IMG} REF",
    "endpoint": f"{SVG} Hook",
    "error": f"{SCRIPT} refused",
    "refusal": f"{IMG} refusal",
    "view": f"{SCRIPT} View",
}

# Collects every CSP violation the page reports; runs before any script of the page.
VIOLATIONS_SCRIPT = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push({
    directive: event.violatedDirective, blocked: event.blockedURI,
    source: event.sourceFile, line: event.lineNumber, sample: event.sample,
  });
});
"""
# One transparent pixel: what the stubbed tile server answers (the map's real tile host).
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
TILE_HOST = re.compile(r"^https://tile\.openstreetmap\.org/")


@pytest.fixture
def hostile(transactional_db: None) -> Tenant:
    """A furnished tenant (tests/conftest.py) whose names are then replaced by payloads."""
    tenant = build_tenant("Hostile")
    organization_id = tenant.organization.pk
    with scopes_disabled():
        Organization.objects.filter(pk=organization_id).update(name=NAMES["organization"])
    with scope(organization=organization_id):
        Zone.objects.filter(pk=tenant.zone.pk).update(name=NAMES["zone"])
        Hub.objects.filter(pk=tenant.hub.pk).update(name=NAMES["hub"])
        Vehicle.objects.filter(pk=tenant.vehicle.pk).update(plate=PLATE, name=NAMES["vehicle"])
        Driver.objects.filter(pk=tenant.driver.pk).update(
            name=NAMES["driver"], user=tenant.users[Role.DRIVER]
        )
        assert tenant.order is not None
        Order.objects.filter(pk=tenant.order.pk).update(
            customer_name=NAMES["customer"], address=NAMES["address"], reference=NAMES["reference"]
        )
        WebhookEndpoint.objects.filter(organization_id=organization_id).update(
            name=NAMES["endpoint"]
        )
        WebhookDelivery.objects.filter(organization_id=organization_id).update(
            last_error=NAMES["error"], attempts=1
        )
        RejectedFix.objects.filter(pk=tenant.rejected_fix.pk).update(detail=NAMES["refusal"])
        SavedView.objects.filter(pk=tenant.saved_view.pk).update(name=NAMES["view"])
    return tenant


class Browsing:
    """A browser context on Daphne that records CSP violations (events and console reports)."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        context.add_init_script(VIOLATIONS_SCRIPT)
        context.route(TILE_HOST, self._tile)
        self.page = context.new_page()
        self.console = csp_violations(self.page)

    @staticmethod
    def _tile(route: Any) -> None:
        # Leaflet asks for tiles with CORS (crossOrigin), so the stub answers like a tile server.
        route.fulfill(
            body=PIXEL, content_type="image/png", headers={"Access-Control-Allow-Origin": "*"}
        )

    def sign_in(self, username: str, next_path: str) -> None:
        page = self.page
        page.goto(f"/login/?next={next_path}")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(re.escape(next_path.split("?")[0])))

    def assert_safe(self, *texts: str) -> None:
        """The payloads show as text, ran nowhere, built nothing, and nothing broke the policy."""
        page = self.page
        for text in texts:
            expect(page.get_by_text(text, exact=False).filter(visible=True).first).to_be_visible()
        page.wait_for_timeout(200)  # an injected <img onerror> fires after its failed load
        assert page.evaluate("typeof window.__xss") == "undefined", page.url
        built = page.locator('img[src="x"], svg[onload], [onerror], [onload]')
        assert built.count() == 0, page.url
        executable_payloads = page.evaluate(
            """() => Array.from(document.scripts).filter(
                s => s.type !== "application/json" && s.textContent.includes("__xss")).length"""
        )
        assert executable_payloads == 0, page.url
        assert page.evaluate("window.__cspViolations") == [], page.url
        assert self.console == [], page.url


@pytest.fixture
def browsing(chromium: Browser, daphne: str) -> Iterator[Callable[..., Browsing]]:
    contexts: list[BrowserContext] = []

    def open_context(**options: Any) -> Browsing:
        context = chromium.new_context(base_url=daphne, **{"viewport": VIEWPORT, **options})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return Browsing(context)

    yield open_context
    for context in contexts:
        context.close()


def report_fix(daphne: str, tenant: Tenant, *, lat: float, lon: float) -> None:
    response = httpx.get(
        f"{daphne}/ingest/osmand/",
        params={"id": tenant.device.identifier, "lat": lat, "lon": lon, "speed": 20,
                "bearing": 45, "timestamp": int(time.time()) - 2},
    )  # fmt: skip
    assert response.status_code == 200, response.text


def test_live_map_and_data_health_show_hostile_names_as_text(
    browsing: Callable[..., Browsing],
    daphne: str,
    hostile: Tenant,
    screenshot: Callable[[Page, str], Path],
) -> None:
    report_fix(daphne, hostile, lat=52.3712, lon=4.8935)
    session = browsing()
    page = session.page
    session.sign_in(hostile.users[Role.DISPATCHER].username, "/map/")

    row = page.locator(f'#vehicle-list [data-vehicle-id="{hostile.vehicle.pk}"]')
    expect(row).to_contain_text(PLATE)
    expect(row).to_contain_text(NAMES["driver"])
    # The websocket is up under connect-src 'self' (same-origin ws: counts as 'self').
    expect(page.locator("[data-connection-state]")).to_have_attribute(
        "data-connection-state", "live"
    )

    # The whole zone on screen: wide enough for its name to be drawn, the vehicle inside it.
    ring = hostile.zone.geometry["coordinates"][0]
    bounds = [[min(p[1] for p in ring), min(p[0] for p in ring)],
              [max(p[1] for p in ring), max(p[0] for p in ring)]]  # fmt: skip
    page.evaluate(
        "bounds => { window.doorstepMap.map.fitBounds(bounds, {animate: false}); }", bounds
    )
    zone_label = page.locator(".lm-zone-label")
    expect(zone_label).to_have_text(NAMES["zone"])
    expect(zone_label).to_be_in_viewport()
    expect(page.locator(".lm-hub__name")).to_have_text(NAMES["hub"])
    expect(page.locator(".lm-hub__name")).to_be_in_viewport()

    # The hover tip over the vehicle's dot, then its details panel (the server's fragment).
    page.evaluate(
        """() => new Promise(resolve => {
            window.doorstepMap.onPainted = () => { window.doorstepMap.onPainted = null; resolve(); };
            window.doorstepMap.layer.redraw();
        })"""
    )
    point = page.evaluate("id => window.doorstepMap.layer.pointOf(id)", hostile.vehicle.pk)
    box = page.locator("#map").bounding_box()
    assert point is not None and box is not None
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
    tip = page.locator(".lm-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text(PLATE)
    expect(tip).to_contain_text(NAMES["driver"])
    session.assert_safe(NAMES["zone"], NAMES["hub"], PLATE)
    screenshot(page, "hostile_names_live_map")

    row.click()
    details = page.locator("#vehicle-details")
    expect(details).to_be_visible()
    expect(details.locator(".vehicle-detail")).to_contain_text(NAMES["vehicle"])
    session.assert_safe(NAMES["vehicle"], NAMES["driver"])
    screenshot(page, "hostile_names_live_map_details")

    # The map links its data health page (refused fixes).
    page.keyboard.press("Escape")
    page.locator("#data-health-link").click()
    expect(page).to_have_url(re.compile(r"/map/data-health/$"))
    session.assert_safe(NAMES["refusal"], NAMES["organization"])


def test_orders_routes_and_webhooks_show_hostile_names_as_text(
    browsing: Callable[..., Browsing], hostile: Tenant
) -> None:
    assert hostile.order is not None
    session = browsing()
    page = session.page
    session.sign_in(hostile.users[Role.ADMIN].username, "/orders/")

    # Support lookup by tracking code (an htmx partial), then the order's own page.
    page.get_by_role("searchbox").fill(hostile.order.tracking_code)
    expect(page.locator("#order-results")).to_contain_text(NAMES["customer"])
    session.assert_safe(NAMES["customer"], NAMES["reference"])
    page.goto(f"/orders/{hostile.order.pk}/")
    session.assert_safe(NAMES["customer"], NAMES["address"], NAMES["reference"])
    page.goto(f"/orders/?q={hostile.order.tracking_code}")
    session.assert_safe(NAMES["customer"])

    # The routes list and the route editor with its map of the stops.
    page.goto("/routes/")
    session.assert_safe(PLATE, NAMES["driver"], NAMES["hub"])
    route = hostile.delivery_objects[Route]
    page.goto(f"/routes/{route.pk}/")
    expect(page.locator("#route-map .route-stop-marker")).to_have_count(1)
    session.assert_safe(NAMES["reference"], NAMES["customer"])

    # Webhooks: the endpoint list, the delivery log and one delivery's payload.
    page.goto("/webhooks/")
    session.assert_safe(NAMES["endpoint"], NAMES["organization"])
    delivery = hostile.delivery_objects[WebhookDelivery]
    page.goto(f"/webhooks/deliveries/{delivery.pk}/")
    session.assert_safe(NAMES["error"])


def test_driver_app_and_tracking_page_show_hostile_names_as_text(
    browsing: Callable[..., Browsing], hostile: Tenant
) -> None:
    assert hostile.order is not None
    session = browsing(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = session.page
    session.sign_in(hostile.users[Role.DRIVER].username, "/driver/")
    session.assert_safe(NAMES["customer"], NAMES["address"])
    # The hub's pin: its tooltip ("Hub <name>") opens on hover. Off its centre to the south-west,
    # where the dashed line to the stop (north-east of the hub, drawn on top) does not pass.
    hub_pin = page.locator('#driver-map path.leaflet-interactive[stroke="#0f172a"]')
    pin_box = hub_pin.bounding_box()
    assert pin_box is not None
    hub_pin.hover(position={"x": pin_box["width"] * 0.25, "y": pin_box["height"] * 0.75})
    expect(page.locator(".leaflet-tooltip")).to_have_text(f"Hub {NAMES['hub']}")
    session.assert_safe(f"Hub {NAMES['hub']}")
    page.goto(f"/driver/stops/{hostile.delivery_objects[Stop].pk}/")
    session.assert_safe(NAMES["customer"], NAMES["address"])

    # The customer's public page: no login.
    public = browsing()
    public.page.goto(f"/track/{hostile.order.tracking_code}/")
    public.assert_safe(NAMES["reference"])


def test_admin_and_api_docs_work_under_the_policy(
    browsing: Callable[..., Browsing], hostile: Tenant
) -> None:
    session = browsing()
    page = session.page
    session.sign_in(hostile.users[Role.ADMIN].username, "/admin/fleet/zone/")
    session.assert_safe(NAMES["zone"])
    page.get_by_role("link", name=NAMES["zone"]).click()
    expect(page.locator("#id_name")).to_have_value(NAMES["zone"])
    session.assert_safe()

    # Swagger UI (drf-spectacular's split view: its start-up script is a file of its own).
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Doorstep API")
    expect(page.locator(".opblock").first).to_be_visible()
    session.assert_safe()


def test_chart_js_draws_under_the_policy(
    browsing: Callable[..., Browsing], hostile: Tenant
) -> None:
    """No page draws charts yet (reporting comes next); Chart.js must work there all the same.
    Responsive charts size their canvas through the CSSOM, which style-src does not restrict."""
    session = browsing()
    page = session.page
    session.sign_in(hostile.users[Role.MANAGER].username, "/dashboards/")
    page.add_script_tag(url="/static/vendor/chartjs/chart.umd.min.js")
    drawn = page.evaluate(
        """label => new Promise(resolve => {
            const box = document.createElement("div");
            box.className = "card";
            const canvas = document.createElement("canvas");
            box.append(canvas);
            document.querySelector("main").append(box);
            const chart = new Chart(canvas, {
                type: "bar",
                data: {labels: [label, "Other hub"], datasets: [{label: "Stops", data: [12, 7]}]},
                options: {responsive: true, animation: {onComplete: () => resolve(chart.width)}},
            });
        })""",
        NAMES["hub"],
    )
    assert drawn > 0
    session.assert_safe()
