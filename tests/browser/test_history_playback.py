"""The history page in Chromium: a van's whole day loads, play moves the marker and the speed
chart's cursor, the timeline scrubs, and the page shows its trips, stops and events."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from deliveries.models import DeliveryEvent, Route, Stop
from tenancy.models import Organization
from tests.deliveries.builders import order_build
from tests.factories import DeviceFactory, HubFactory
from tests.reporting.positions import positions_insert
from tests.reporting.tracks import delivery_day

pytestmark = pytest.mark.browser

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
DAY = dt.date(2026, 6, 10)
TILE_HOST = re.compile(r"^https://tile\.openstreetmap\.org/")
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def a_van_with_its_day(organization: Organization) -> tuple[Any, list[Any]]:
    organization.timezone = "Europe/Amsterdam"
    organization.save(update_fields=["timezone"])
    hub = HubFactory.create(
        organization=organization, name="Amsterdam West", latitude=52.37, longitude=4.89
    )
    device = DeviceFactory.create(
        organization=organization, vehicle__plate="VAN-042", vehicle__hub=hub
    )
    start = dt.datetime.combine(DAY, dt.time.min, tzinfo=AMSTERDAM).timestamp()
    track = delivery_day(start)
    positions_insert(device, track.fixes)
    order = order_build(organization, hub, reference="ORD-1042")
    with scopes_disabled():
        route = Route.objects.create(
            organization=organization, hub=hub, date=DAY, vehicle=device.vehicle
        )
        Stop.objects.create(organization=organization, route=route, sequence=1, order=order)
        for status, hour in (("arrived", 10), ("delivered", 10.1), ("failed", 14)):
            DeliveryEvent.objects.create(
                organization=organization,
                order=order,
                to_status=status,
                at=dt.datetime.combine(DAY, dt.time.min, tzinfo=AMSTERDAM)
                + dt.timedelta(hours=hour),
                source=DeliveryEvent.Source.DRIVER,
            )
        Stop.objects.filter(route=route).update(
            planned_arrival=dt.datetime.combine(DAY, dt.time(9, 45), tzinfo=AMSTERDAM),
            actual_arrival=dt.datetime.combine(DAY, dt.time(10, 0), tzinfo=AMSTERDAM),
            actual_departure=dt.datetime.combine(DAY, dt.time(10, 6), tzinfo=AMSTERDAM),
        )
    return device.vehicle, track.fixes


def marker_and_cursor(page: Page) -> dict[str, Any]:
    return page.evaluate(
        """() => {
          const h = window.doorstepHistory;
          const p = h.map.marker.getLatLng();
          return {
            time: h.player.time,
            playing: h.player.playing,
            lat: p.lat,
            lng: p.lng,
            cursor: document.getElementById('history-chart-cursor').style.transform,
            clock: document.getElementById('history-clock').textContent,
            scrub: Number(document.getElementById('history-scrub').value),
          };
        }"""
    )


def test_a_vans_day_plays_back(
    page: Page,
    member: Callable[..., Any],
    sign_in: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    user = member("hist-dispatcher", role="dispatcher")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    vehicle, fixes = a_van_with_its_day(organization)
    page.route(
        TILE_HOST,
        lambda route: route.fulfill(
            body=PIXEL, content_type="image/png", headers={"Access-Control-Allow-Origin": "*"}
        ),
    )
    day_url = f"/history/vehicles/{vehicle.pk}/{DAY.isoformat()}/"
    sign_in(user.username, next_path=day_url)
    expect(page).to_have_url(re.compile(re.escape(day_url)))
    page.wait_for_function("() => window.doorstepHistory && window.doorstepHistory.chart")
    expect(page.locator("#history-loading")).to_be_hidden()
    assert page.evaluate("() => window.doorstepHistory.track.length") == len(fixes) == 8640

    # Trips, stops and the delivery events are listed and drawn on the timeline.
    entries = page.locator("#history-entries li")
    assert entries.count() > 20
    expect(page.locator("#history-entries")).to_contain_text("Delivered · ORD-1042")
    expect(page.locator("#history-entries")).to_contain_text("Failed · ORD-1042")
    assert page.locator("#history-bands .hist-tick").count() == 3
    expect(page.locator('[data-stat="distance"]')).to_contain_text("km")

    # Start from the first trip (a click in the list) and play at x64.
    page.locator("#history-entries li", has_text="Trip").first.click()
    page.select_option("#history-rate", "64")
    before = marker_and_cursor(page)
    page.click("#history-play")
    page.wait_for_function("(t) => window.doorstepHistory.player.time > t + 60", arg=before["time"])
    after = marker_and_cursor(page)
    assert after["playing"]
    assert (after["lat"], after["lng"]) != (before["lat"], before["lng"])  # the van moved
    assert after["cursor"] != before["cursor"]  # and so did the chart's cursor
    assert after["clock"] != before["clock"]
    assert after["scrub"] > before["scrub"]
    screenshot(page, "history-playback")

    page.click("#history-play")  # pause
    paused = marker_and_cursor(page)["time"]
    page.wait_for_timeout(300)
    assert marker_and_cursor(page)["time"] == paused

    # The clock shows the organization's time: seek to 14:00 local and read it back.
    page.evaluate("() => window.doorstepHistory.player.seek(14 * 3600)")
    expect(page.locator("#history-clock")).to_have_text("14:00:00")

    # Dragging the timeline seeks (and pauses).
    page.locator("#history-scrub").fill(str(12 * 3600))
    expect(page.locator("#history-clock")).to_have_text("12:00:00")

    # The route's plan versus actual, one link back to this day.
    with scopes_disabled():
        route = Route.objects.get(vehicle=vehicle)
    page.goto(f"/history/routes/{route.pk}/")
    expect(page.get_by_test_id("sequence-compliance")).to_have_text("100%")
    screenshot(page, "history-plan-versus-actual")
    page.get_by_role("link", name="Replay the day").click()
    expect(page).to_have_url(re.compile(re.escape(day_url)))


def test_a_day_without_positions_says_so(
    page: Page,
    member: Callable[..., Any],
    sign_in: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    user = member("hist-manager", role="manager")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    hub = HubFactory.create(organization=organization, name="Amsterdam West")
    device = DeviceFactory.create(
        organization=organization, vehicle__plate="VAN-007", vehicle__hub=hub
    )
    page.route(TILE_HOST, lambda route: route.abort())
    day_url = f"/history/vehicles/{device.vehicle_id}/{DAY.isoformat()}/"
    sign_in(user.username, next_path=day_url)
    expect(page.locator("#history-empty")).to_be_visible()
    expect(page.locator("#history-empty")).to_contain_text("No positions on this day")
    expect(page.locator("#history-play")).to_be_disabled()
    # The navigation's History link opens the first vehicle's today.
    expect(page.get_by_role("link", name="History")).to_have_attribute("aria-current", "page")
    screenshot(page, "history-empty-day")
