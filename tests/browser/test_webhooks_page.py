"""The webhook console in Chromium: endpoints, the delivery log with its states, filter, replay."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from playwright.sync_api import Page, expect

from deliveries.models import WebhookDelivery, WebhookEndpoint
from tenancy.models import Organization
from tests.deliveries.builders import order_build
from tests.factories import HubFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Status = WebhookDelivery.Status


def log_build(organization: Organization) -> WebhookDelivery:
    """Two endpoints and a log with one delivery in each state; returns the failed one."""
    hub = HubFactory.create(organization=organization, name="Amsterdam West")
    order = order_build(organization, hub, reference="AX-0042")
    now = timezone.now()
    with scope(organization=organization.pk):
        erp = WebhookEndpoint.objects.create(
            organization=organization, name="ERP", url="https://erp.example.com/doorstep",
            events=["order.created", "order.delivered", "order.failed"],
        )  # fmt: skip
        WebhookEndpoint.objects.create(
            organization=organization, name="Old CRM", url="https://crm.example.com/hook",
            events=["order.status_changed"], active=False,
        )  # fmt: skip
        rows = [
            ("order.created", Status.SUCCEEDED, 1, 200, "", 40),
            ("order.delivered", Status.RETRYING, 2, 502, "HTTP 502: Bad Gateway", 5),
            ("order.failed", Status.FAILED, 8, 500, "HTTP 500: Internal Server Error", 90),
            ("order.created", Status.PENDING, 0, None, "", 0),
        ]
        made = []
        for event, status, attempts, code, error, minutes_ago in rows:
            created = now - dt.timedelta(minutes=minutes_ago)
            made.append(
                WebhookDelivery.objects.create(
                    organization=organization,
                    endpoint=erp,
                    event=event,
                    event_id=uuid.uuid4(),
                    payload={"order": {"id": order.pk, "reference": order.reference}},
                    status=status,
                    attempts=attempts,
                    last_status_code=code,
                    last_error=error,
                    created_at=created,
                    delivered_at=created if status == Status.SUCCEEDED else None,
                    next_attempt_at=now + dt.timedelta(minutes=2)
                    if status == Status.RETRYING
                    else None,
                )
            )
    return made[2]


def test_manager_reads_the_log_filters_it_and_replays_a_failed_delivery(
    page: Page, member, sign_in, screenshot
) -> None:
    member("mia", role="manager", first_name="Mia", last_name="Manager")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    failed = log_build(organization)

    sign_in("mia", next_path="/webhooks/")
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Webhooks")).to_have_attribute("aria-current", "page")
    endpoints = page.get_by_test_id("webhook-endpoints")
    expect(endpoints.get_by_role("row")).to_have_count(3)
    expect(endpoints.locator(".badge", has_text="Inactive")).to_be_visible()
    log = page.get_by_test_id("webhook-deliveries")
    for status in ("succeeded", "retrying", "failed", "pending"):
        expect(log.locator(f'[data-status="{status}"]')).to_have_count(1)
    screenshot(page, "webhooks_log")

    page.get_by_label("Status").select_option("failed")
    expect(log.get_by_role("row")).to_have_count(2)  # header + the failed one, swapped by htmx
    expect(page).to_have_url(re.compile(r"status=failed"))
    log.get_by_role("button", name="Replay").click()
    expect(page.locator(".callout--success")).to_contain_text("Replay queued as event")
    expect(page).to_have_url(re.compile(r"/webhooks/\?status=failed"))
    with scopes_disabled():
        replay = WebhookDelivery.objects.get(replay_of=failed)
    assert replay.status == Status.PENDING and replay.payload == failed.payload

    page.goto(f"/webhooks/deliveries/{failed.pk}/")
    expect(page.get_by_test_id("webhook-payload")).to_contain_text('"reference": "AX-0042"')
    expect(page.get_by_text(str(replay.event_id))).to_be_visible()
    screenshot(page, "webhooks_delivery_detail")


def test_empty_webhook_page_invites_an_admin_to_add_an_endpoint(
    page: Page, member, sign_in, screenshot
) -> None:
    member("ada", role="admin")
    sign_in("ada", next_path="/webhooks/")
    expect(page.get_by_role("heading", name="No endpoints yet")).to_be_visible()
    expect(page.get_by_role("heading", name="No deliveries")).to_be_visible()
    expect(page.get_by_role("link", name="Add endpoint").first).to_have_attribute(
        "href", "/admin/deliveries/webhookendpoint/add/"
    )
    screenshot(page, "webhooks_empty")
