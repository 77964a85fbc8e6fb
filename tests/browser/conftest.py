"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright's sync API runs an event loop in the test thread, which trips Django's async-safety
check on the ORM calls tests make to build their state; the tests are plain sync code, so the
check is switched off for this package.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django_scopes import scopes_disabled
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)

from tenancy.models import Membership, Organization
from tests.support.processes import django_process_env
from tests.support.stack import free_port

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "artifacts" / "screenshots"
VENDOR_DIR = REPO_ROOT / "static" / "vendor"
PASSWORD = "correct-horse-battery"
# Big enough to show the console as dispatchers see it on their monitors.
VIEWPORT: ViewportSize = {"width": 1600, "height": 900}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM_PATH).exists():
        pytest.skip(f"Debian Chromium not found at {CHROMIUM_PATH}")
    if not (VENDOR_DIR / "htmx" / "htmx.min.js").exists():
        pytest.fail("static/vendor/ is missing: run scripts/build_static.sh first")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def csp_violations(page: Page) -> list[str]:
    """Chromium's console reports of what the Content-Security-Policy blocked on this page."""
    reports: list[str] = []
    page.on(
        "console",
        lambda message: (
            reports.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return reports


def block_tiles(page: Page | BrowserContext) -> list[str]:
    """A closed network: every request off this machine (the map tiles) is aborted, and listed."""
    aborted: list[str] = []

    def abort(route: Route) -> None:
        aborted.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])"), abort)
    return aborted


def map_base_drawn(page: Page, selector: str) -> str:
    """What the shared map module drew under a map (static/js/maps/base.js): its data-map-base
    once the base layer has settled, "vector" with its feature count."""
    element = page.locator(selector)
    expect(element).to_have_attribute("data-map-base", re.compile(r"^(vector|grid)$"))
    kind = element.get_attribute("data-map-base") or ""
    if kind == "vector":
        assert int(element.get_attribute("data-map-base-features") or 0) > 10
    return kind


@pytest.fixture
def page(chromium: Browser, live_server: object) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT, base_url=str(live_server))
    context.set_default_timeout(10_000)
    page = context.new_page()
    blocked = csp_violations(page)
    yield page
    context.close()
    # Our pages load no inline script or style: anything blocked means a page broke.
    assert blocked == [], blocked


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """Save a full-viewport PNG under artifacts/screenshots/ for people to look at."""

    def save(page: Page, name: str) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return save


@pytest.fixture
def member(transactional_db: None) -> Callable[..., AbstractUser]:
    """Create a user with a role in one or more organizations (created by name if new)."""

    def create(
        username: str,
        *,
        role: str,
        organizations: tuple[str, ...] = ("Amsterdam Express",),
        first_name: str = "",
        last_name: str = "",
    ) -> AbstractUser:
        with scopes_disabled():
            user = get_user_model().objects.create_user(
                username=username,
                password=PASSWORD,
                first_name=first_name,
                last_name=last_name,
            )
            for name in organizations:
                organization, _ = Organization.objects.get_or_create(
                    name=name, defaults={"slug": name.lower().replace(" ", "-")}
                )
                Membership.objects.create(organization=organization, user=user, role=role)
        return user

    return create


@pytest.fixture
def sign_in(page: Page) -> Callable[..., None]:
    """Sign in through the real login form."""

    def submit(username: str, password: str = PASSWORD, *, next_path: str = "/") -> None:
        page.goto(next_path)
        expect(page).to_have_url(re.compile(r"/login/"))
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()

    return submit


@contextlib.contextmanager
def daphne_running(log_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """The real ASGI server (HTTP, ingest and websockets) on the test database; its URL."""
    port = free_port()
    # Its log goes to a file: a pipe nobody reads would stall the server once it fills up.
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
         "config.asgi:application"],
        cwd=REPO_ROOT, env=django_process_env(extra_env), stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        # Generous: with both xdist workers and Chromium on a shared 2-core machine, importing
        # Django and the apps alone took over 20 s (the server had printed nothing yet).
        deadline = time.monotonic() + 180  # at a load average of 11, over 60 s
        while True:
            try:
                # A first request of a cold server on a busy machine can take seconds.
                httpx.get(f"{url}/login/", timeout=10)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("daphne did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # Daphne's graceful stop waits for open websockets to close; on a busy machine that
            # can outlast 10 s after the test has passed. Stop it hard rather than fail there.
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture
def daphne(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    """The real ASGI server (HTTP, ingest and websockets) on the test database."""
    with daphne_running(tmp_path / "daphne.log") as url:
        yield url
