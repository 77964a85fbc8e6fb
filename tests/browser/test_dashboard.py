"""The manager's dashboard in Chromium: a manager lands on it after login, the three trend
charts draw (pixels on their canvases), a day's bar drills down to that day, and it is
screenshotted at 1920x1080 and 1366x768 for people to look at."""

from __future__ import annotations

import datetime as dt
import random
import re
import zoneinfo
from collections.abc import Callable

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from deliveries.models import FailureReason, Route
from reporting.models import DailyRouteRollup, DailyVehicleRollup
from reporting.route_rollups import hub_day_histograms_refresh
from tenancy.context import tenant_context
from tenancy.models import Organization
from tests.factories import DriverFactory, HubFactory, VehicleFactory

pytestmark = pytest.mark.browser

ZONE = "Europe/Amsterdam"
REASONS = (("not_home", "Recipient not at home"), ("refused", "Refused"), ("address", "Address not found"), ("damaged", "Damaged parcel"))  # fmt: skip


def a_month_of_rollups(organization: Organization, *, vans: int = 12, days: int = 60) -> None:
    """Seeded, plausible rollup rows for the last `days` local days: the charts and tables have
    something to draw (the figures themselves are checked in tests/reporting/test_dashboard.py)."""
    rng = random.Random(7)
    organization.timezone = ZONE
    organization.save(update_fields=["timezone"])
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(ZONE))
    hubs = [
        HubFactory.create(organization=organization, name=name)
        for name in ("Amsterdam West", "Amsterdam Noord", "Amstelveen")
    ]
    with scopes_disabled():
        for code, label in REASONS:
            FailureReason.objects.create(organization=organization, code=code, label=label)
    fleet = []
    for n in range(vans):
        driver = DriverFactory.create(
            organization=organization, name=f"Driver {chr(65 + n)}. Jansen"
        )
        van = VehicleFactory.create(
            organization=organization, plate=f"VAN-{n + 1:03d}", hub=hubs[n % 3], driver=driver
        )
        fleet.append((van, driver, 0.78 + rng.random() * 0.2))
    with scopes_disabled():
        for offset in range(days):
            day = today - dt.timedelta(days=offset)
            if day.weekday() == 6:
                continue  # no Sunday rounds
            for van, driver, punctual in fleet:
                stops = rng.randint(18, 30)
                failed = rng.choice((0, 0, 1, 1, 2, 3))
                delivered = stops - failed
                shift = 36_000
                moving = rng.randint(15_000, 20_000)
                idle = rng.randint(300, 3_000)
                DailyVehicleRollup.objects.create(
                    organization=organization, vehicle=van, day=day, hub_id=van.hub_id, driver_id=driver.pk,
                    fixes=1200, distance_m=moving / 3.6 * 9, moving_seconds=moving, idle_seconds=idle,
                    stopped_seconds=shift - moving - idle, shift_seconds=shift, speeding_events=rng.choice((0, 0, 1, 2)),
                    computed_at=timezone.now(),
                )  # fmt: skip
                route = Route.objects.create(
                    organization=organization, hub=van.hub, date=day, vehicle=van, driver=driver
                )
                reasons: dict[str, int] = {}
                for _ in range(failed):
                    code = rng.choice(REASONS)[0]
                    reasons[code] = reasons.get(code, 0) + 1
                DailyRouteRollup.objects.create(
                    organization=organization, route=route, day=day, hub_id=van.hub_id, vehicle_id=van.pk,
                    driver_id=driver.pk, stops_planned=stops, stops_visited=stops, deliveries=delivered,
                    failures=failed, delivered_with_window=delivered,
                    delivered_on_time=min(delivered, round(delivered * (punctual + rng.uniform(-0.08, 0.08)))),
                    first_attempts=stops, first_attempt_successes=delivered, dwell_seconds=stops * rng.randint(200, 420),
                    dwell_stops=stops, on_route_seconds=rng.randint(25_000, 32_000), failures_by_reason=reasons,
                    computed_at=timezone.now(),
                )  # fmt: skip
    # The rollup pass's hub-day bins of the hand-written route rows (what the summary reads).
    with tenant_context(organization):
        for offset in range(days):
            day = today - dt.timedelta(days=offset)
            hub_day_histograms_refresh(organization_id=organization.pk, day=day)


def canvas_has_pixels(page: Page, selector: str) -> bool:
    return bool(
        page.evaluate(
            """selector => {
                const canvas = document.querySelector(selector);
                const context = canvas.getContext("2d");
                const {data} = context.getImageData(0, 0, canvas.width, canvas.height);
                let painted = 0;
                for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) painted++; }
                return painted > 2000;
            }""",
            selector,
        )
    )


def test_a_manager_lands_on_the_dashboard_and_its_charts_draw(
    page: Page,
    member: Callable[..., object],
    sign_in: Callable[..., None],
    screenshot: Callable[..., object],
) -> None:
    member("mara", role="manager", first_name="Mara", last_name="de Vries")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    a_month_of_rollups(organization)

    page.set_viewport_size({"width": 1920, "height": 1080})
    sign_in("mara")
    expect(page).to_have_url(re.compile(r"/dashboards/$"))
    expect(page.get_by_role("heading", name="Operations dashboard")).to_be_visible()
    expect(page.get_by_test_id("dashboard-timezone")).to_have_text(ZONE)
    for chart in ("deliveries", "time", "reasons"):
        expect(page.locator(f"canvas[data-chart='{chart}']")).to_have_attribute(
            "data-rendered", "true"
        )
        assert canvas_has_pixels(page, f"canvas[data-chart='{chart}']"), chart
    expect(page.locator(".kpi-tile")).to_have_count(12)
    # Six tiles a row on a big monitor: the first row's tops line up.
    tops = [
        box["y"]
        for box in (page.locator(".kpi-tile").nth(i).bounding_box() for i in range(7))
        if box
    ]
    assert len(set(tops[:6])) == 1 and tops[6] > tops[0]
    expect(page.get_by_test_id("worst-vehicle").locator("tbody tr")).to_have_count(8)
    screenshot(page, "dashboard_1920")
    page.locator("#worst-vehicle").scroll_into_view_if_needed()
    screenshot(page, "dashboard_1920_lower")

    page.set_viewport_size({"width": 1366, "height": 768})
    page.reload()
    expect(page.locator("canvas[data-chart='deliveries']")).to_have_attribute(
        "data-rendered", "true"
    )
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 1366, "nothing sticks out sideways at 1366 px"
    assert page.evaluate("(m => m.scrollWidth <= m.clientWidth)(document.querySelector('main'))")
    screenshot(page, "dashboard_1366")
    page.locator("#chart-time").scroll_into_view_if_needed()
    screenshot(page, "dashboard_1366_middle")
    page.locator("#worst-day").scroll_into_view_if_needed()
    screenshot(page, "dashboard_1366_lower")
    page.locator("#chart-deliveries").scroll_into_view_if_needed()

    # A day's bar drills down to the dashboard of that day: click the middle of the last bar.
    box = page.locator("canvas[data-chart='deliveries']").bounding_box()
    assert box is not None
    bar = page.evaluate(
        """() => {
            const chart = window.doorstepDashboard.charts.deliveries;
            const bars = chart.getDatasetMeta(0).data;
            const last = bars[bars.length - 1];
            return {x: last.x, y: (last.y + last.base) / 2, day: window.doorstepDashboard.data.days.at(-1)};
        }"""
    )
    page.mouse.click(box["x"] + bar["x"], box["y"] + bar["y"])
    expect(page).to_have_url(re.compile(rf"start={bar['day']}&end={bar['day']}"))
    expect(page.get_by_test_id("dashboard-period")).to_contain_text("(1 day)")


def test_an_empty_organization_gets_the_empty_state(
    page: Page,
    member: Callable[..., object],
    sign_in: Callable[..., None],
    screenshot: Callable[..., object],
) -> None:
    member("nina", role="manager")
    page.set_viewport_size({"width": 1920, "height": 1080})
    sign_in("nina")
    expect(page.get_by_test_id("dashboard-empty")).to_be_visible()
    expect(page.get_by_text("No deliveries in this period")).to_be_visible()
    screenshot(page, "dashboard_empty")
