"""The reports page in Chromium: a manager picks a kind and a day, reads the rows, starts an
export (its status appears under the title); the schedules and archive pages render; no CSP
violation anywhere."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import Page, expect

from reporting.models import ReportRun
from tenancy.models import Organization
from tests.browser.test_history_playback import DAY, a_van_with_its_day

pytestmark = pytest.mark.browser


def test_a_manager_reads_and_exports_a_report(
    page: Page,
    member: Callable[..., Any],
    sign_in: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    user = member("reports-manager", role="manager", first_name="Mara", last_name="Jansen")
    with scopes_disabled():
        organization = Organization.objects.get(name="Amsterdam Express")
    vehicle, _ = a_van_with_its_day(organization)
    page.set_viewport_size({"width": 1920, "height": 1080})
    sign_in(user.username, next_path="/reports/")
    expect(page.get_by_test_id("report-start")).to_be_visible()

    page.locator("label.report-kind", has_text="Trips").click()
    page.fill("#report-start", DAY.isoformat())
    page.fill("#report-end", DAY.isoformat())
    page.get_by_role("button", name="Show report").click()
    expect(page).to_have_url(re.compile(r"kind=trips"))
    expect(page.get_by_test_id("report-title")).to_have_text(f"Trips · {DAY.isoformat()}")
    rows = page.locator(".report-table tbody tr")
    assert rows.count() > 10
    expect(rows.first).to_contain_text(vehicle.plate)
    screenshot(page, "reports-trips")

    page.get_by_test_id("export-pdf").click()  # htmx: the run's status, no page load
    status = page.get_by_test_id("run-status").first
    expect(status).to_have_attribute("data-status", "queued")
    expect(status).to_contain_text(f"trips-{DAY.isoformat()}.pdf")
    with scopes_disabled():
        assert ReportRun.objects.filter(requested_by=user, file_format="pdf").count() == 1

    page.goto("/reports/schedules/")
    expect(page.get_by_role("heading", name="Report schedules")).to_be_visible()
    screenshot(page, "reports-schedules")
    page.goto("/reports/archive/")
    expect(page.get_by_test_id("archive-table")).to_contain_text(f"{DAY.isoformat()}")
    screenshot(page, "reports-archive")
