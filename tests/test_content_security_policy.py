"""The Content-Security-Policy (config/settings/base.py): every environment sends it, it allows no
inline or eval'd script, and the templates keep to it (no inline script, handler or style)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from config.csp import tile_source
from tenancy.models import Role
from tests.conftest import Tenant, login

REPO = Path(__file__).resolve().parents[1]
TEMPLATE_DIRS = [REPO / "templates", *REPO.glob("*/templates")]


def directives(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_strict(policy: dict[str, list[str]]) -> None:
    assert policy["script-src"] == ["'self'"]
    assert not any("'unsafe-eval'" in sources for sources in policy.values())
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy.get("style-src", [])
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    assert {"'self'", "data:", "blob:"} <= set(policy["img-src"])


@pytest.mark.django_db
def test_public_pages_carry_the_strict_policy(tenant_a: Tenant) -> None:
    assert tenant_a.order is not None
    client = Client()
    for path in ["/login/", f"/track/{tenant_a.order.tracking_code}/", "/no-such-page/"]:
        response = client.get(path)
        assert "Content-Security-Policy" in response, path
        assert_strict(directives(response))


@pytest.mark.django_db
def test_console_api_admin_and_docs_carry_the_strict_policy(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    for path in ["/map/", "/orders/", "/webhooks/", "/api/v1/orders/", "/admin/", "/api/docs/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(directives(response))


@pytest.mark.django_db
def test_the_tile_host_of_the_settings_is_the_only_foreign_image_source(
    tenant_a: Tenant,
) -> None:
    response = login(tenant_a.users[Role.DISPATCHER]).get("/map/")
    foreign = [s for s in directives(response)["img-src"] if "://" in s]
    assert foreign == [tile_source(settings.MAP_TILE_URL)] if settings.MAP_TILE_URL else []


@pytest.mark.django_db
def test_swagger_ui_start_up_script_is_a_file_of_its_own(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    page = client.get("/api/docs/").content.decode()
    assert re.search(r'<script src="/api/docs/\?[^"]*script=', page)
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


@pytest.mark.parametrize("module", ["config.settings.dev", "config.settings.production"])
def test_every_environment_sends_the_same_policy(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 64)  # production refuses to load without one
    loaded = importlib.import_module(module)
    base = importlib.import_module("config.settings.base")
    assert loaded.CONTENT_SECURITY_POLICY == base.CONTENT_SECURITY_POLICY
    assert "csp.middleware.CSPMiddleware" in loaded.MIDDLEWARE
    assert settings.CONTENT_SECURITY_POLICY == base.CONTENT_SECURITY_POLICY  # tests too


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tiles.example.org/{z}/{x}/{y}.png", "https://*.tiles.example.org"),
        ("http://tiles.internal:8080/styles/{z}/{x}/{y}.png", "http://tiles.internal:8080"),
        ("/tiles/{z}/{x}/{y}.png", None),  # ours: 'self'
        ("", None),  # no base map
    ],
)
def test_tile_source(url: str, source: str | None) -> None:
    assert tile_source(url) == source


def test_a_placeholder_deep_in_the_host_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured):
        tile_source("https://tiles.{s}.example.org/{z}/{x}/{y}.png")


def template_files() -> list[Path]:
    return [path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html")]


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"<script(?![^>]*\bsrc=)[^>]*>", "inline <script>: move it to a static file"),
        (r"<[a-z][^>]*\son[a-z]+\s*=", "inline event handler: use addEventListener"),
        (r"\sstyle\s*=", "style attribute: use a class in static/css"),
        (r"<style\b", "inline <style>: use a stylesheet"),
        (r"\|\s*safe\b|{%\s*autoescape\s+off", "unescaped output"),
        (r"javascript:", "javascript: URL"),
    ],
)
def test_templates_keep_to_the_policy(pattern: str, why: str) -> None:
    offenders = [
        str(path.relative_to(REPO))
        for path in template_files()
        if re.search(pattern, path.read_text(), flags=re.IGNORECASE)
    ]
    assert template_files() and offenders == [], why
