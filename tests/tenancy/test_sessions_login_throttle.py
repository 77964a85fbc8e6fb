"""Login throttling behind a reverse proxy: django-axes locks username + *client* address as
our trusted proxies report it, the same address the tracking page's rate limit uses."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import Tenant
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"  # every request arrives from the proxy: the same REMOTE_ADDR
ALICE, BOB = "203.0.113.10", "198.51.100.20"


def attempt(forwarded_for: str, password: str) -> int:
    client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for)
    return client.post(
        "/login/", {"username": "alpha-dispatcher", "password": password}
    ).status_code


def test_clients_behind_one_proxy_are_throttled_separately(tenant_a: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_TRUSTED_PROXIES = 1
    for _ in range(4):
        assert attempt(ALICE, "wrong") == 200
    assert attempt(ALICE, "wrong") == 429  # the fifth failure locks Alice's address
    assert attempt(ALICE, PASSWORD) == 429
    # Bob comes through the same proxy, from another address: not locked out by Alice.
    assert attempt(BOB, PASSWORD) == 302


def test_a_forged_forwarded_entry_does_not_escape_the_lock(tenant_a: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_TRUSTED_PROXIES = 1
    for _ in range(5):
        attempt(ALICE, "wrong")
    # Alice puts an address of her own choosing first; our proxy appends the one it saw.
    for forged in (BOB, "192.0.2.1", "not-an-address"):
        assert attempt(f"{forged}, {ALICE}", PASSWORD) == 429, forged


def test_without_trusted_proxies_the_header_is_ignored(tenant_a: Tenant, settings: Any) -> None:
    settings.RATE_LIMIT_TRUSTED_PROXIES = 0
    for index in range(5):
        attempt(f"203.0.113.{index}", "wrong")  # a new forged address every time
    assert attempt("192.0.2.99", PASSWORD) == 429  # all of them were the peer's failures
