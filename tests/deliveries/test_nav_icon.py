"""The console's Webhooks link carries an icon of its own, not the icon template's fallback."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string

from tenancy.models import Role
from tests.conftest import Tenant, login


def icon(name: str) -> str:
    return render_to_string("includes/icon.html", {"name": name}).strip()


def test_webhooks_has_its_own_icon() -> None:
    fallback = icon("no-such-icon")
    webhooks = icon("webhooks")
    assert webhooks.startswith("<svg") and webhooks.endswith("</svg>")
    assert webhooks != fallback
    assert webhooks not in {icon(other) for other in ("map", "orders", "alerts", "admin")}


@pytest.mark.django_db
def test_the_admins_top_bar_shows_it_on_the_webhooks_link(tenant_a: Tenant) -> None:
    body = login(tenant_a.users[Role.ADMIN]).get("/orders/").content.decode()
    link = re.search(r'<a class="topbar__link[^"]*" href="/webhooks/"[^>]*>(.*?)</a>', body, re.S)
    assert link is not None
    assert icon("webhooks") in link.group(1) and "Webhooks" in link.group(1)


def test_every_icon_is_sized_like_its_text_outside_the_shell() -> None:
    """An icon in a plain link (the order panel's "The vehicle's day") once filled its card:
    the icon carries a class that the stylesheet sizes to its text."""
    from django.conf import settings

    assert icon("clock").startswith('<svg class="icon"')
    css = (settings.BASE_DIR / "static" / "css" / "doorstep.css").read_text()
    rule = re.search(r"\n\.icon \{([^}]*)\}", css)
    assert rule is not None
    assert "width: 1em" in rule.group(1) and "height: 1em" in rule.group(1)
