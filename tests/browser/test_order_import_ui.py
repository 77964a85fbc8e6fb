"""Order creation and import in Chromium: a file with bad rows, its preview, the import; the
lookup's delivery panel."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from deliveries.models import Order, Route, Stop
from fleet.models import VehicleState
from tenancy.models import Organization
from tests.deliveries.builders import order_build
from tests.factories import DeviceFactory, HubFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = """reference,customer_name,address,latitude,longitude,window_start,window_end,hub,email
AX-1001,Jane Doorstep,Keizersgracht 1,52.37,4.88,2026-12-01 09:00,2026-12-01 12:00,west,
AX-1002,Piet Pakket,Damrak 2,52.37,4.89,2026-12-01 09:00,2026-12-01 12:00,west,
AX-1003,,Singel 3,52.37,4.89,2026-12-01 09:00,2026-12-01 12:00,west,
AX-1004,No Coordinates,Singel 4,,,2026-12-01 09:00,2026-12-01 12:00,west,
AX-1005,Wrong Hub,Singel 5,52.37,4.89,2026-12-01 09:00,2026-12-01 12:00,east,
AX-1006,Late Window,Singel 6,52.37,4.89,2026-12-01 13:00,2026-12-01 12:00,west,not-mail
AX-1001,Twice,Singel 7,52.37,4.89,2026-12-01 09:00,2026-12-01 12:00,west,
"""


def test_dispatcher_imports_the_valid_rows_of_a_file_with_bad_rows(
    page: Page, member, sign_in, screenshot, tmp_path: Path
) -> None:
    member("dana", role="dispatcher", first_name="Dana", last_name="Dispatch")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    HubFactory.create(organization=organization, name="Amsterdam West", code="west")
    file = tmp_path / "orders.csv"
    file.write_text(CSV)

    sign_in("dana", next_path="/orders/import/")
    expect(page.get_by_role("heading", name="Import orders")).to_be_visible()
    screenshot(page, "orders_import_upload")
    page.get_by_label("File").set_input_files(str(file))
    page.get_by_role("button", name="Check the file").click()

    preview = page.get_by_test_id("import-preview")
    expect(preview.get_by_test_id("rows-valid")).to_have_text("2")
    expect(preview.get_by_test_id("rows-bad")).to_have_text("5")
    errors = preview.get_by_test_id("import-errors")
    expect(errors.get_by_text("No hub with code “east” in this organization.")).to_be_visible()
    expect(errors.get_by_text("Reference “AX-1001” already appears in row 2.")).to_be_visible()
    screenshot(page, "orders_import_preview")

    page.get_by_role("button", name="Import 2 valid rows").click()
    expect(page).to_have_url(re.compile(r"/orders/$"))
    expect(page.get_by_text("Imported 2 orders.")).to_be_visible()
    expect(page.locator("#order-results").get_by_role("link", name="AX-1002")).to_be_visible()
    with scopes_disabled():
        assert set(Order.objects.values_list("reference", flat=True)) == {"AX-1001", "AX-1002"}


def test_dispatcher_creates_an_order_and_support_sees_its_delivery(
    page: Page, member, sign_in, screenshot
) -> None:
    member("dana", role="dispatcher")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    hub = HubFactory.create(organization=organization, name="Amsterdam West", code="west")

    sign_in("dana", next_path="/orders/new/")
    page.get_by_label("Reference").fill("AX-2001")
    page.get_by_label("Customer name").fill("Jane Doorstep")
    page.get_by_label("Address").fill("Keizersgracht 1, Amsterdam")
    page.get_by_role("button", name="Create order").click()
    expect(page.get_by_text("Coordinates are required")).to_be_visible()
    screenshot(page, "orders_new_errors")
    page.get_by_label("Latitude").fill("52.37")
    page.get_by_label("Longitude").fill("4.88")
    page.get_by_role("button", name="Create order").click()
    expect(page.get_by_text("Order AX-2001 created.")).to_be_visible()

    order = order_build(
        organization, hub, reference="AX-2002", customer_name="Piet Pakket", email="p@example.com"
    )
    device = DeviceFactory.create(
        organization=organization,
        vehicle__hub=hub,
        vehicle__plate="VAN-042",
        vehicle__driver__name="Dirk Driver",
    )
    now = timezone.now()
    with scopes_disabled():
        assert device.vehicle is not None
        route = Route.objects.create(
            organization=organization,
            hub=hub,
            date=timezone.localdate(),
            vehicle=device.vehicle,
            driver=device.vehicle.driver,
            status=Route.Status.IN_PROGRESS,
        )
        Stop.objects.create(
            organization=organization,
            route=route,
            sequence=3,
            order=order,
            eta=(order.window_end or now) + dt.timedelta(minutes=25),
            eta_updated_at=now - dt.timedelta(minutes=1),
            late_risk=True,
        )
        VehicleState.objects.create(
            organization=organization,
            vehicle=device.vehicle,
            fix_time=now - dt.timedelta(minutes=3),
            server_time=now - dt.timedelta(minutes=3),
            latitude=52.37,
            longitude=4.88,
            status=VehicleState.Status.MOVING,
        )
    page.goto(f"/orders/{order.pk}/")
    detail = page.locator("#order-detail")
    expect(detail.get_by_test_id("late-risk")).to_be_visible()
    expect(detail.get_by_text("Dirk Driver")).to_be_visible()
    expect(detail.get_by_test_id("vehicle-position")).to_contain_text("3\xa0minutes ago")
    detail.get_by_role("button", name="Re-send tracking link").click()
    expect(page.get_by_text("Tracking link sent to p@example.com.")).to_be_visible()
    screenshot(page, "orders_lookup_delivery")
