"""Public links (tracking page): the code is the key, so isolation is by code, not by session.

B's link shows B's order to whoever holds it, and nothing of A — not even to A's own users,
whose session must not change a byte of what the link shows.
"""

from __future__ import annotations

import re
import secrets

import pytest
from django.test import Client
from django.urls import reverse

from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.tenancy import harness
from tests.tenancy.test_cross_tenant import ForeignTenant, assert_no_foreign_data

pytestmark = pytest.mark.django_db


def _client(tenant: Tenant, role: str | None) -> Client:
    client = login(tenant.users[role]) if role else Client()
    # Addresses of their own: the rate limiter's counters must not carry over between tests.
    client.defaults["REMOTE_ADDR"] = "10." + ".".join(str(secrets.randbelow(250)) for _ in "abc")
    return client


# "Updated 16:03": the page's own clock, which may tick between the two requests compared.
CLOCK = re.compile(r'(data-field="updated">|"updated": ?")[^<"]*')


def _without_clock(body: str) -> str:
    return CLOCK.sub(r"\1", body)


def test_every_public_link_is_also_walked_with_an_unknown_code() -> None:
    assert set(harness.PUBLIC_TOKEN_URLS) <= set(harness.FOREIGN_ID_URLS)


@pytest.mark.parametrize("role", [None, *Role.values])
def test_b_links_show_b_and_nothing_of_a(
    role: str | None, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    assert tenant_b.order is not None
    client, stranger = _client(tenant_a, role), _client(tenant_a, None)
    for name, kwargs in sorted(harness.PUBLIC_TOKEN_URLS.items()):
        url = reverse(name, kwargs=kwargs(ForeignTenant(tenant_b)))
        response = client.get(url)
        assert response.status_code == 200, (name, role, response.status_code)
        body = response.content.decode()
        assert tenant_b.order.reference in body
        assert_no_foreign_data(body, tenant_a, f"{role} {name}")
        seen_by_stranger = stranger.get(url).content.decode()
        assert _without_clock(body) == _without_clock(seen_by_stranger), (
            f"{role}'s session changed {name}"
        )
