"""The support agent's order lookup in Chromium: search, open an order, copy its tracking link."""

from __future__ import annotations

import re

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from deliveries.models import DeliveryEvent
from tenancy.models import Organization
from tests.deliveries.builders import failure_reasons_create, order_advance, order_build
from tests.factories import HubFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.flaky(reruns=1)  # browser timing on a shared machine
def test_support_agent_finds_an_order_and_copies_its_link(
    page: Page, member, sign_in, screenshot
) -> None:
    member("sam", role="support")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    hub = HubFactory.create(organization=organization, name="Amsterdam West")
    failure_reasons_create(organization)
    order = order_build(
        organization, hub, reference="AX-0042", customer_name="Jane Doorstep", phone="+31 612345678"
    )
    order_build(organization, hub, reference="AX-0043", customer_name="Other Person")
    journey = ("assigned", "out_for_delivery", "arrived", "failed")
    order_advance(order, *journey, source=DeliveryEvent.Source.DRIVER)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    sign_in("sam")
    expect(page).to_have_url(re.compile(r"/orders/$"))
    expect(page.get_by_role("heading", name="Orders", exact=True)).to_be_visible()

    # Wait for the search's own answer: the page already lists recent orders (both), and on a
    # busy machine the 300 ms debounce plus the request outlasted the assertions' timeout.
    with page.expect_response(lambda r: "q=12345" in r.url, timeout=30_000):
        page.get_by_label("Search orders").fill("12345")  # part of the phone number
    results = page.locator("#order-results")
    expect(results.get_by_role("link", name="AX-0042")).to_be_visible()
    expect(results.get_by_role("link", name="AX-0043")).to_have_count(0)

    results.get_by_role("link", name="AX-0042").click()
    detail = page.locator("#order-detail")
    expect(detail.locator(".badge.delivery-failed").first).to_have_text("Failed")
    expect(detail.get_by_text("amsterdam-express Not home")).to_be_visible()
    expect(detail.get_by_label("Tracking link")).to_have_value(
        re.compile(rf"/track/{re.escape(order.tracking_code)}/$")
    )
    detail.get_by_role("button", name="Copy tracking link").click()
    expect(detail.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.endswith(f"/track/{order.tracking_code}/")
    screenshot(page, "orders_lookup")
