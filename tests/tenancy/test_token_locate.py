"""A token's location (organization, id) is remembered per process after its first request, so
later requests skip the resolver; the token itself is still read on every request, so a revoked
or deleted token is refused at once and a plain value given to a new token is found anew."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from tenancy.api import tokens
from tenancy.api.models import ApiToken
from tenancy.context import tenant_context
from tenancy.tokens import token_hash
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


def new_token(tenant: Tenant, plain: str) -> ApiToken:
    with tenant_context(tenant.organization):
        token = ApiToken(organization=tenant.organization, name="locate")
        token.set_token(plain)
        token.save()
    return token


def test_the_resolver_is_asked_once_and_the_token_read_every_time(tenant_a: Tenant) -> None:
    token = new_token(tenant_a, "locate-me-1")
    client = Client(HTTP_AUTHORIZATION="Token locate-me-1")
    assert client.get(ORDERS).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(ORDERS).status_code == 200
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "doorstep_api_token_by_hash" not in sql and "deliveries_apitoken" in sql
    with scopes_disabled():
        ApiToken.objects.filter(pk=token.pk).update(active=False)
    assert client.get(ORDERS).status_code == 401


def test_a_plain_value_that_moved_to_another_token_is_found_again(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    first = new_token(tenant_a, "locate-me-2")
    client = Client(HTTP_AUTHORIZATION="Token locate-me-2")
    assert client.get(ORDERS).status_code == 200
    with scopes_disabled():
        first.delete()
    new_token(tenant_b, "locate-me-2")
    response = client.get(ORDERS)
    assert response.status_code == 200
    seen = {order["id"] for order in response.json()["results"]}
    assert tenant_b.order is not None and tenant_b.order.pk in seen
    assert tokens._located[token_hash("locate-me-2")][0] == tenant_b.organization.pk
