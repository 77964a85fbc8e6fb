"""The customer's tracking page in Chromium, on a phone: status, ETA, the driver nearby, proof."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from django_scopes import scope
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from deliveries.models import DeliveryEvent, ProofOfDelivery, Route, Stop
from fleet.models import Vehicle, VehicleState
from tenancy.models import Organization
from tests.browser.conftest import SCREENSHOT_DIR, block_tiles, csp_violations, map_base_drawn
from tests.deliveries.builders import order_advance, order_build
from tests.factories import HubFactory, OrganizationFactory, VehicleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(chromium: Browser, live_server: Any) -> Iterator[Page]:
    context = chromium.new_context(
        viewport={"width": PHONE["width"], "height": PHONE["height"]},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        base_url=str(live_server),
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    blocked = csp_violations(page)
    yield page
    context.close()
    assert blocked == [], blocked  # the map and the polling work under the CSP


def full_page(page: Page, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def delivery_day(settings: Any, tmp_path: Path) -> dict[str, Any]:
    """Amsterdam Express: the neighbour is stop 1, our customer stop 2, the van on its way."""
    settings.MAP_TILE_URL = ""  # no tile server is reachable here: the plain background shows
    settings.MEDIA_ROOT = tmp_path
    organization: Organization = OrganizationFactory.create(
        name="Amsterdam Express", slug="amsterdam-express", timezone="Europe/Amsterdam"
    )
    hub = HubFactory.create(organization=organization, name="Amsterdam West")
    vehicle: Vehicle = VehicleFactory.create(
        organization=organization, hub=hub, plate="AX-12-VAN", driver__name="Sam Jansen"
    )
    now = timezone.now()
    neighbour = order_build(
        organization,
        hub,
        reference="AX-0041",
        customer_name="Nina Neighbourly",
        address="3 Elm Lane",
        latitude=52.3500,
        longitude=4.8600,
    )
    mine = order_build(
        organization,
        hub,
        reference="AX-0042",
        customer_name="Jane Doorstep",
        address="7 Oak Street",
        latitude=52.3700,
        longitude=4.9000,
        window_start=now - dt.timedelta(hours=1),
        window_end=now + dt.timedelta(hours=2),
    )
    with scope(organization=organization.pk):
        route = Route.objects.create(
            organization=organization,
            hub=hub,
            date=timezone.localdate(),
            vehicle=vehicle,
            driver=vehicle.driver,
        )
        Stop.objects.create(organization=organization, route=route, sequence=1, order=neighbour)
        Stop.objects.create(
            organization=organization,
            route=route,
            sequence=2,
            order=mine,
            eta=now + dt.timedelta(minutes=25),
        )
        VehicleState.objects.create(
            organization=organization,
            vehicle=vehicle,
            fix_time=now,
            server_time=now,
            latitude=52.3501,
            longitude=4.8601,
            status=VehicleState.Status.MOVING,
        )
    order_advance(
        neighbour, "assigned", "out_for_delivery", "arrived", source=DeliveryEvent.Source.DRIVER
    )
    order_advance(mine, "assigned", "out_for_delivery", source=DeliveryEvent.Source.DRIVER)
    return {"organization": organization, "neighbour": neighbour, "mine": mine, "vehicle": vehicle}


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"


def test_customer_follows_the_van_from_stops_away_to_proof(
    phone: Page, delivery_day: dict[str, Any], screenshot: Callable[[Page, str], Path]
) -> None:
    mine, neighbour = delivery_day["mine"], delivery_day["neighbour"]
    # The page polls every 30 s; a fake clock lets the test move time instead of waiting.
    phone.clock.install()
    phone.goto(f"/track/{mine.tracking_code}/")

    expect(phone.get_by_role("heading", name="On its way")).to_be_visible()
    expect(phone.get_by_text("Order AX-0042")).to_be_visible()
    expect(phone.get_by_text("Amsterdam Express").first).to_be_visible()
    expect(phone.locator(".track-fact--eta dd")).to_have_text(
        re.compile(r"^\d\d:\d\d\u2013\d\d:\d\d$")
    )
    expect(phone.get_by_text("Your driver is on the way, 1 stop before yours.")).to_be_visible()
    expect(phone.locator("#tracking-map")).to_have_count(0)
    body = phone.content()
    for secret in ("Nina Neighbourly", "3 Elm Lane", "AX-0041", "Jansen", "AX-12-VAN"):
        assert secret not in body
    no_horizontal_scroll(phone)
    full_page(phone, "tracking_phone_stops_before")

    # The neighbour is served: ours is next, and the next poll brings the van onto the map.
    order_advance(neighbour, "delivered", source=DeliveryEvent.Source.DRIVER)
    phone.clock.run_for(31_000)
    expect(phone.locator("#tracking-map .leaflet-interactive")).to_have_count(2)
    expect(phone.locator(".leaflet-tooltip", has_text="Your address")).to_be_visible()
    expect(phone.locator(".leaflet-tooltip", has_text="Driver")).to_be_visible()
    expect(phone.get_by_text("You're next: your driver is on the way to you.")).to_be_visible()
    expect(phone.get_by_text("Your driver", exact=True)).to_be_visible()
    expect(phone.get_by_text("Sam", exact=True)).to_be_visible()
    no_horizontal_scroll(phone)
    screenshot(phone, "tracking_phone_driver_nearby")
    full_page(phone, "tracking_phone_driver_nearby_full")

    # Delivered with a photo: the proof replaces the map after the next poll.
    order_advance(mine, "arrived", "delivered", source=DeliveryEvent.Source.DRIVER)
    with scope(organization=mine.organization_id):
        proof = ProofOfDelivery(
            organization_id=mine.organization_id, order=mine, recipient_name="J. Doorstep"
        )
        proof.photo.save("door.png", ContentFile(_tiny_png()), save=False)
        proof.save()
    phone.clock.run_for(31_000)
    expect(phone.get_by_role("heading", name="Delivered")).to_be_visible()
    expect(phone.get_by_role("heading", name="Proof of delivery")).to_be_visible()
    expect(phone.get_by_text("J. Doorstep")).to_be_visible()
    expect(phone.locator("#tracking-map")).to_have_count(0)
    expect(phone.get_by_text("refreshes every")).to_have_count(0)  # final: polling stops
    photo = phone.get_by_role("link", name="View photo")
    expect(photo).to_have_attribute("href", f"/track/{mine.tracking_code}/pod/{proof.pk}/photo/")
    expect(phone.locator(".track-step--current")).to_have_text(re.compile("Delivered"))
    no_horizontal_scroll(phone)
    full_page(phone, "tracking_phone_delivered")


def test_unknown_link_gets_a_friendly_page(phone: Page) -> None:
    response = phone.goto("/track/this-is-not-a-real-code/")
    assert response is not None and response.status == 404
    expect(phone.get_by_role("heading", name="We can't find this delivery")).to_be_visible()
    expect(phone.locator('meta[name="robots"]')).to_have_attribute("content", "noindex, nofollow")
    no_horizontal_scroll(phone)
    full_page(phone, "tracking_phone_not_found")


def _tiny_png() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), (110, 86, 232)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_tracking_map_draws_its_own_vector_fallback_without_console_endpoints(
    phone: Page,
    delivery_day: dict[str, Any],
    settings: Any,
    screenshot: Callable[[Page, str], Path],
) -> None:
    # Tiles configured, but the network is closed.
    settings.MAP_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    aborted = block_tiles(phone)
    requested: list[str] = []
    phone.on("request", lambda request: requested.append(request.url))
    mine, neighbour = delivery_day["mine"], delivery_day["neighbour"]
    order_advance(neighbour, "delivered", source=DeliveryEvent.Source.DRIVER)
    phone.goto(f"/track/{mine.tracking_code}/")
    expect(phone.locator("#tracking-map .leaflet-interactive")).to_have_count(2)
    # The page is anonymous: no base layer from a members' endpoint, a metric grid and a scale
    # under the two places and the line between them instead.
    assert map_base_drawn(phone, "#tracking-map") == "grid"
    assert aborted, "the page asked for no tile"
    assert not [url for url in requested if "/map/" in url], requested
    expect(phone.locator("#tracking-map .leaflet-control-scale")).to_be_visible()
    phone.locator("#tracking-map").scroll_into_view_if_needed()
    screenshot(phone, "tracking_map_tiles_blocked")
