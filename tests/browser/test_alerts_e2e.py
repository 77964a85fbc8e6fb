"""The whole alert path in Chromium, nothing faked: fixes sent through the real OsmAnd endpoint
of a real Daphne, flushed by ingest, relayed from the outbox by a real Celery worker, evaluated
there (`alerts.evaluate_positions`), pushed back through the channel layer to the dispatcher's
inbox socket. A speeding episode opens an alert that appears live (no reload), the dispatcher
acknowledges it with the keyboard, slow fixes clear it and the engine resolves it on its own."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django_scopes import scopes_disabled
from playwright.sync_api import Browser, Page, expect

from alerts.models import Alert, Channel, RuleKind, Severity
from tenancy.models import Organization, Role
from tests.alerts.factories import rule_create
from tests.conftest import Tenant, build_tenant
from tests.support.celery import CeleryWorker

from .conftest import VIEWPORT, csp_violations, daphne_running
from .test_alerts_inbox import inbox_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIMIT_KMH = 60
# Metres per degree of longitude at 52.37 N: the fixes move as fast as they claim to (ingest
# refuses jumps a vehicle could not make).
M_PER_DEG_LON = 111_320 * 0.6105


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    tenant = build_tenant("Stream")
    with scopes_disabled():
        Organization.objects.filter(pk=tenant.organization.pk).update(osmand_speed_unit="kmh")
    rule_create(
        tenant.organization.pk, name=f"Speeding over {LIMIT_KMH}", kind=RuleKind.SPEEDING,
        severity=Severity.WARNING, channels=[Channel.IN_APP],
        params={"limit_kmh": LIMIT_KMH, "min_seconds": 3, "hysteresis_kmh": 5},
    )  # fmt: skip
    return tenant


@pytest.fixture
def stack_url(tenant: Tenant, celery_worker: CeleryWorker, tmp_path: Path) -> Iterator[str]:
    """Daphne whose tasks (the outbox relay nudges after each flush) go to this test's worker."""
    with daphne_running(
        tmp_path / "daphne.log", {"DOORSTEP_TEST_CELERY_QUEUE": celery_worker.queue}
    ) as url:
        yield url


@pytest.fixture
def live_page(chromium: Browser, stack_url: str) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT, base_url=stack_url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    blocked = csp_violations(page)
    yield page
    context.close()
    assert blocked == [], blocked


class Drive:
    """One vehicle's OsmAnd device: a fix a second, moving east as fast as its speed says, each
    sent when its timestamp comes (as a phone does), so the alert's timeline (fix times) and
    the dispatcher's actions (wall clock) tell one story."""

    def __init__(self, url: str, tenant: Tenant) -> None:
        self.url, self.identifier = url, tenant.device.identifier
        self.stamp = int(time.time()) - 30
        self.lon = 4.8900

    def fixes(self, count: int, kmh: float, *, paced: bool = True) -> None:
        for _ in range(count):
            self.stamp = max(self.stamp + 1, int(time.time())) if paced else self.stamp + 1
            if paced:
                time.sleep(max(0.0, self.stamp - time.time()))
            self.lon += kmh / 3.6 / M_PER_DEG_LON
            response = httpx.get(
                f"{self.url}/ingest/osmand/",
                params={"id": self.identifier, "lat": 52.3700, "lon": f"{self.lon:.6f}",
                        "speed": kmh, "bearing": 90, "timestamp": self.stamp},
            )  # fmt: skip
            assert response.status_code == 200, response.text


def alerts_of(tenant: Tenant) -> list[Alert]:
    with scopes_disabled():
        return list(Alert.objects.filter(organization=tenant.organization).order_by("pk"))


def test_a_speeding_van_opens_an_alert_live_it_is_acknowledged_and_auto_resolves(
    live_page: Page,
    stack_url: str,
    tenant: Tenant,
    celery_worker: CeleryWorker,
    screenshot: Callable[[Page, str], Path],
) -> None:
    page = live_page
    drive = Drive(stack_url, tenant)
    drive.fixes(5, kmh=30, paced=False)  # known, under the limit
    inbox_page(page, tenant)
    expect(page.locator("#inbox-empty")).to_be_visible()
    badge = page.get_by_test_id("alerts-badge")

    # Over the limit for 6 s (the rule wants 3): one alert, live on the open page.
    drive.fixes(6, kmh=82)
    row = page.locator("#inbox-rows tr").first
    expect(row).to_be_visible(timeout=30_000)
    expect(row).to_contain_text(tenant.vehicle.plate)
    expect(page.get_by_test_id("alert-toast")).to_be_visible()
    expect(badge).to_have_text("1")
    [alert] = alerts_of(tenant)
    assert alert.kind == RuleKind.SPEEDING and alert.status == Alert.Status.OPEN
    assert alert.vehicle_id == tenant.vehicle.pk
    expect(row).to_have_attribute("data-alert-id", str(alert.pk))
    page.keyboard.press("j")
    expect(page.locator("#preview-title")).to_have_text(alert.title)
    screenshot(page, "alerts_e2e_opened")

    page.keyboard.press("a")
    expect(row.locator(".inbox-status")).to_have_text("Acknowledged")
    celery_worker.wait_for(
        lambda: alerts_of(tenant)[0].status == Alert.Status.ACKNOWLEDGED, "the acknowledgement"
    )
    assert alerts_of(tenant)[0].acknowledged_by_id == tenant.users[Role.DISPATCHER].pk
    screenshot(page, "alerts_e2e_acknowledged")

    # Back under the limit minus the hysteresis: the engine resolves it, the row leaves.
    drive.fixes(4, kmh=35)
    expect(page.locator(f'#inbox-rows tr[data-alert-id="{alert.pk}"]')).to_have_count(
        0, timeout=30_000
    )
    expect(page.locator("#inbox-empty")).to_be_visible()
    expect(badge).to_have_text(re.compile(r"^0?$"))
    [resolved] = alerts_of(tenant)  # the same episode, not a second alert
    assert resolved.pk == alert.pk and resolved.status == Alert.Status.RESOLVED
    assert resolved.details["peak_kmh"] == pytest.approx(82, abs=1)

    page.goto(f"/alerts/{alert.pk}/")
    timeline = page.get_by_test_id("alert-timeline")
    lines = [" ".join(line.split()) for line in timeline.locator("li").all_inner_texts()]
    steps = [next(s for s in ("Opened", "Acknowledged", "Resolved") if s in line)
             for line in lines if re.search(r"Opened|Acknowledged|Resolved", line)]  # fmt: skip
    assert steps == ["Opened", "Acknowledged", "Resolved"], lines
    screenshot(page, "alerts_e2e_resolved_detail")
