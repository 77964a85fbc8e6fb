"""The console shell in a real browser: sign in, navigation by role, organization, error pages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import VIEWPORT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONSOLE_SECTIONS = ("Map", "Orders", "Alerts", "Dashboards")


def main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def test_login_page_shows_product_and_form(page: Page, screenshot) -> None:
    page.goto("/login/")

    expect(page).to_have_title(re.compile("Sign in"))
    expect(page.get_by_role("heading", name="Sign in to Doorstep")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_focused()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    screenshot(page, "login")


def test_dispatcher_signs_in_and_sees_console_shell(page: Page, member, sign_in, screenshot):
    member("dana", role="dispatcher", first_name="Dana", last_name="Visser")

    sign_in("dana")

    # A dispatcher lands on the live map.
    expect(page).to_have_url(re.compile(r"/map/$"))
    nav = main_nav(page)
    for section in CONSOLE_SECTIONS:
        expect(nav.get_by_role("link", name=section, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    expect(nav.get_by_role("link", name="Map", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_test_id("organization-name")).to_have_text("Amsterdam Express")
    expect(page.get_by_test_id("role-badge")).to_have_text("Dispatcher")
    expect(page.get_by_text("Dana Visser")).to_be_visible()
    # The person's name, not the username, in the top bar.
    expect(page.locator(".topbar .user__name")).to_have_text("Dana Visser")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # Front-end libraries come from static/vendor, and htmx sends the CSRF token.
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("typeof window.Chart") == "undefined"  # loaded only where charts are
    csrf_header = page.locator("body").get_attribute("hx-headers") or ""
    assert re.fullmatch(r'\{"X-CSRFToken": "[A-Za-z0-9]{32,64}"\}', csrf_header)

    # The map screen gets the full-height layout: the main area fills the viewport under the top
    # bar and never scrolls as a page (what the map draws belongs to the live-map tests).
    expect(page.locator("body")).to_have_class(re.compile(r"\bpage-fill\b"))
    main_box = page.locator("main#content").bounding_box()
    assert main_box is not None
    assert main_box["y"] + main_box["height"] == pytest.approx(VIEWPORT["height"], abs=1)
    assert main_box["height"] > 0.9 * VIEWPORT["height"]
    assert page.evaluate("document.scrollingElement.scrollHeight") <= VIEWPORT["height"]
    screenshot(page, "console_map")

    # The dashboards section: the shell around the manager's home (no "coming soon" left).
    nav.get_by_role("link", name="Dashboards", exact=True).click()
    expect(page).to_have_url(re.compile(r"/dashboards/$"))
    expect(page.get_by_role("heading", name="Operations dashboard", exact=True)).to_be_visible()
    expect(page.get_by_text("Coming soon")).to_have_count(0)
    expect(nav.get_by_role("link", name="Dashboards", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    screenshot(page, "console_shell")


def test_wrong_password_shows_an_error(page: Page, member, sign_in, screenshot) -> None:
    member("dana", role="dispatcher")

    sign_in("dana", "not-the-password")

    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value("dana")
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    screenshot(page, "login_error")


def test_admin_sees_the_admin_link(page: Page, member, sign_in) -> None:
    member("ada", role="admin")

    sign_in("ada")

    expect(main_nav(page).get_by_role("link", name="Admin")).to_be_visible()
    expect(page.get_by_test_id("role-badge")).to_have_text("Admin")


def test_support_agent_gets_no_dashboards_link_and_a_friendly_403(
    page: Page, member, sign_in, screenshot
) -> None:
    member("sam", role="support")

    sign_in("sam")

    expect(page).to_have_url(re.compile(r"/orders/$"))
    expect(main_nav(page).get_by_role("link", name="Dashboards")).to_have_count(0)
    response = page.goto("/dashboards/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You can't open this page")).to_be_visible()
    expect(page.get_by_text("Your role in Amsterdam Express (Support agent)")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the console")).to_be_visible()
    screenshot(page, "forbidden")


def test_unknown_page_shows_friendly_404(page: Page, member, sign_in, screenshot) -> None:
    member("dana", role="dispatcher")
    sign_in("dana")
    expect(page).to_have_url(re.compile(r"/map/$"))

    response = page.goto("/no-such-page/")

    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(main_nav(page)).to_be_visible()
    page.get_by_role("link", name="Back to the console").click()
    expect(page).to_have_url(re.compile(r"/map/$"))
    page.goto("/no-such-page/")
    screenshot(page, "not_found")


def test_organization_switcher_changes_organization(page: Page, member, sign_in, screenshot):
    member("dana", role="dispatcher", organizations=("Amsterdam Express", "Rotterdam Parcels"))
    sign_in("dana")
    switcher = page.get_by_label("Organization")
    expect(switcher.locator("option:checked")).to_have_text("Amsterdam Express")
    # JavaScript submits on change, so the fallback button is hidden.
    expect(page.get_by_role("button", name="Switch")).to_be_hidden()
    screenshot(page, "organization_switcher")

    switcher.select_option(label="Rotterdam Parcels")

    expect(page.get_by_label("Organization").locator("option:checked")).to_have_text(
        "Rotterdam Parcels"
    )


def test_log_out_returns_to_sign_in(page: Page, member, sign_in) -> None:
    member("dana", role="dispatcher")
    sign_in("dana")
    expect(page).to_have_url(re.compile(r"/map/$"))

    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(re.compile(r"/login/$"))
    page.goto("/map/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/map/"))


def test_anonymous_404_uses_the_public_layout(page: Page, screenshot) -> None:
    response = page.goto("/no-such-page/")

    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    screenshot(page, "not_found_anonymous")


def test_repeated_wrong_passwords_lock_sign_in(page: Page, member, sign_in, screenshot):
    member("dana", role="dispatcher")

    for _ in range(5):
        sign_in("dana", "not-the-password")

    expect(page.get_by_role("heading", name="Too many sign-in attempts")).to_be_visible()
    expect(page.get_by_text("15 minutes")).to_be_visible()
    screenshot(page, "locked_out")


def test_user_without_organization_is_told_what_to_do(page: Page, member, sign_in, screenshot):
    member("newbie", role="dispatcher", organizations=())

    sign_in("newbie")

    expect(
        page.get_by_role("heading", name="You're not part of an organization yet")
    ).to_be_visible()
    expect(main_nav(page).get_by_role("link")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot(page, "no_organization")
