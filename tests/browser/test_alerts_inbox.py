"""The exception inbox in Chromium against a real Daphne: an alert opened (committed with its
outbox event, relayed as the worker would) appears live through the websocket with a toast
and the navigation badge, is acknowledged with the keyboard, and leaves the list when the
engine resolves it. Also screenshots of the detail and settings pages.

The helpers (`inbox_page`, `relay`) are meant for the end-to-end test where the alert comes
from a fix sent through the OsmAnd endpoint instead of the factory."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection
from django_scopes import scopes_disabled
from playwright.sync_api import Browser, Page, expect

from alerts.models import Alert, Severity
from tenancy.models import Role
from tests.alerts.factories import alert_close, alert_open, rule_create
from tests.conftest import Tenant, build_tenant
from tests.factories import PASSWORD
from tests.support.outbox import outbox_relay_now

from .conftest import VIEWPORT, csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    return build_tenant("Inbox").alerts_build()


@pytest.fixture
def live_page(chromium: Browser, daphne: str) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT, base_url=daphne)
    context.set_default_timeout(15_000)
    page = context.new_page()
    blocked = csp_violations(page)
    yield page
    context.close()
    assert blocked == [], blocked


def sign_in_to(page: Page, path: str, username: str) -> None:
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(re.escape(path.split("?")[0])))


def inbox_page(page: Page, tenant: Tenant, role: str = Role.DISPATCHER) -> None:
    """Signed in on /alerts/ with the socket live."""
    sign_in_to(page, "/alerts/", tenant.users[role].username)
    expect(page.locator("#inbox-live")).to_have_attribute("data-state", "live")


def relay(tenant: Tenant) -> None:
    """What the worker's outbox relay does: hand the events to the subscribers (the live push
    goes out through the channel layer to Daphne's sockets). In a thread of its own:
    Playwright's event loop runs in this one, and the push uses async_to_sync."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outbox_relay_now(tenant.organization.pk)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if errors:
        raise errors[0]


def test_an_alert_appears_live_is_acknowledged_by_keyboard_and_resolves(
    live_page: Page, tenant: Tenant, screenshot: Callable[[Page, str], Path]
) -> None:
    page = live_page
    inbox_page(page, tenant)
    rows = page.locator("#inbox-rows tr")
    expect(rows).to_have_count(1)  # the fixture's own alert
    badge = page.get_by_test_id("alerts-badge")
    expect(badge).to_have_text("1")

    rule = rule_create(tenant.organization.pk, name="Vehicle offline", kind="vehicle_offline",
                       severity=Severity.CRITICAL)  # fmt: skip
    alert = alert_open(
        tenant.organization.pk, rule=rule, title="Van offline for 14 min",
        subject_label=tenant.vehicle.plate, vehicle_id=tenant.vehicle.pk, hub_id=tenant.hub.pk,
        details={"minutes_offline": 14},
    )  # fmt: skip
    relay(tenant)
    new_row = page.locator(f'#inbox-rows tr[data-alert-id="{alert.pk}"]')
    expect(new_row).to_be_visible()
    expect(rows.first).to_have_attribute("data-alert-id", str(alert.pk))  # critical first
    expect(page.get_by_test_id("alert-toast")).to_contain_text("Van offline for 14 min")
    expect(badge).to_have_text("2")
    page.keyboard.press("j")
    expect(page.locator("#preview-title")).to_have_text("Van offline for 14 min")
    screenshot(page, "alerts_inbox_live")

    page.keyboard.press("a")
    expect(new_row.locator(".inbox-status")).to_have_text("Acknowledged")
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED
    assert alert.acknowledged_by_id == tenant.users[Role.DISPATCHER].pk

    # The condition clears: the engine resolves it and every screen drops it.
    alert_close(alert)
    relay(tenant)
    expect(new_row).to_have_count(0)
    expect(badge).to_have_text("1")

    page.goto(f"/alerts/{alert.pk}/")
    timeline = page.get_by_test_id("alert-timeline")
    expect(timeline).to_contain_text("Acknowledged")
    expect(timeline).to_contain_text("Resolved")
    screenshot(page, "alerts_detail")


def test_settings_pages_render_for_an_admin(
    live_page: Page, tenant: Tenant, screenshot: Callable[[Page, str], Path]
) -> None:
    page = live_page
    sign_in_to(page, "/alerts/settings/", tenant.users[Role.ADMIN].username)
    expect(page.get_by_test_id("rule-table")).to_contain_text("Inboxrule Watch")
    screenshot(page, "alerts_settings_rules")
    page.get_by_role("link", name="Inboxrule Watch").click()
    expect(page.get_by_label("Name")).to_have_value("Inboxrule Watch")
    screenshot(page, "alerts_settings_rule_form")
    page.goto("/alerts/preferences/")
    page.get_by_label("Quiet hours from").fill("22:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".field__error, .callout--error").first).to_be_visible()
    screenshot(page, "alerts_preferences_error")


def test_show_on_map_centres_the_vehicle_and_marks_the_alert(
    live_page: Page, daphne: str, tenant: Tenant, screenshot: Callable[[Page, str], Path]
) -> None:
    from .test_live_map_e2e import report

    page = live_page
    assert tenant.alert is not None
    report(daphne, tenant, lat=52.3702, lon=4.8901)
    sign_in_to(page, f"/map/?vehicle={tenant.vehicle.pk}&alert={tenant.alert.pk}",
               tenant.users[Role.DISPATCHER].username)  # fmt: skip
    page.wait_for_function("() => window.doorstepMap?.alerts?.markers?.size === 1")
    page.wait_for_function(
        "id => document.getElementById('vehicle-details')?.hidden === false", arg=tenant.vehicle.pk
    )
    assert "vehicle=" in page.url and "alert=" in page.url  # the map kept the link's state
    screenshot(page, "alerts_on_live_map")
