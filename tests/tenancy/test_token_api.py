"""API tokens over the API: admin only; the token is answered once and only its hash kept; a
token cannot grant a scope it does not hold, nor revoke itself; a revoked token opens nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from tenancy.api.models import Scope
from tenancy.api.tokens import api_token_create
from tenancy.context import tenant_context
from tenancy.errors import PermissionDenied
from tenancy.models import ApiToken, IdempotencyReceipt, Role
from tenancy.tokens import token_hash
from tests.conftest import Tenant, login
from tests.support.api_clients import post, scoped_client, scoped_token
from tests.support.problems import problem_fields, problem_of

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/tokens/"


def token_client(plain: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {plain}")


def test_an_admin_creates_a_token_shown_once_that_works(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    body = {"name": "Shop sync", "scopes": ["orders", "read", "orders"]}
    response = post(admin, TOKENS, body, **{"Idempotency-Key": "tok-1"})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["scopes"] == ["orders", "read"] and created["active"] is True
    assert response["Location"] == f"{TOKENS}{created['id']}/"
    plain = created["token"]
    with scopes_disabled():
        stored = ApiToken.objects.get(pk=created["id"])
        receipt = IdempotencyReceipt.objects.get(key="tok-1")
    assert stored.token_hash == token_hash(plain)
    assert plain not in json.dumps(receipt.body)
    replay = post(admin, TOKENS, body, **{"Idempotency-Key": "tok-1"})
    assert replay.json()["id"] == created["id"] and replay.json()["token"] is None
    # The new token works, within its scopes.
    new = token_client(plain)
    assert new.get("/api/v1/orders/").status_code == 200
    problem_of(new.get(TOKENS), 403)
    listing = admin.get(TOKENS).json()["results"]
    assert created["id"] in [t["id"] for t in listing]
    assert plain not in json.dumps(listing) and "token_hash" not in json.dumps(listing)
    assert admin.get(response["Location"]).json()["name"] == "Shop sync"


def test_revoking_a_token_shuts_it_out(tenant_a: Tenant) -> None:
    admin = scoped_client(tenant_a, ["admin"])
    victim, plain = scoped_token(tenant_a.organization, ["orders"])
    assert token_client(plain).get("/api/v1/orders/").status_code == 200
    response = post(admin, f"{TOKENS}{victim.pk}/revoke/")
    assert response.status_code == 200 and response.json()["active"] is False
    problem_of(token_client(plain).get("/api/v1/orders/"), 401)
    again = post(admin, f"{TOKENS}{victim.pk}/revoke/")
    assert again.status_code == 200 and again.json()["active"] is False


def test_a_token_cannot_revoke_itself(tenant_a: Tenant) -> None:
    token, plain = scoped_token(tenant_a.organization, ["admin"])
    problem_of(post(token_client(plain), f"{TOKENS}{token.pk}/revoke/"), 409)
    assert token_client(plain).get(TOKENS).status_code == 200


def test_a_token_cannot_grant_scopes_it_does_not_hold(tenant_a: Tenant) -> None:
    narrow, _ = scoped_token(tenant_a.organization, ["orders"])
    with tenant_context(tenant_a.organization.pk):
        with pytest.raises(PermissionDenied, match="tracking"):
            api_token_create(
                organization_id=tenant_a.organization.pk,
                name="wider",
                scopes=["orders", "tracking"],
                granted_by=narrow,
            )
        token, _ = api_token_create(
            organization_id=tenant_a.organization.pk,
            name="narrower",
            scopes=["read"],
            granted_by=narrow,
        )
    assert token.scopes == ["read"]
    # Over HTTP only admin tokens create tokens, and admin holds every scope.
    refused = post(token_client(scoped_token(tenant_a.organization, ["orders"])[1]), TOKENS,
                   {"name": "x", "scopes": ["read"]})  # fmt: skip
    assert "admin" in problem_of(refused, 403)["detail"]


def test_scopes_are_listed(tenant_a: Tenant) -> None:
    scopes = scoped_client(tenant_a, ["admin"]).get(f"{TOKENS}scopes/").json()
    assert [s["value"] for s in scopes] == [
        Scope.READ,
        Scope.ORDERS,
        Scope.TRACKING,
        Scope.ALERTS,
        Scope.ADMIN,
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "", "scopes": ["read"]}, {"name"}),
        ({"name": "x", "scopes": []}, {"scopes"}),
        ({"name": "x", "scopes": ["superuser"]}, {"scopes"}),
        ({"name": "x", "scopes": "admin"}, {"scopes"}),
        ({"name": "x", "scopes": ["read"], "active": False}, {"active"}),
        ({"name": "x", "scopes": ["read"], "token": "mine"}, {"token"}),
        ({"name": "x" * 81, "scopes": ["read"]}, {"name"}),
    ],
)
def test_bad_input_is_refused_by_name(tenant_a: Tenant, body: dict, fields: set[str]) -> None:
    response = post(scoped_client(tenant_a, ["admin"]), TOKENS, body)
    assert problem_fields(response) == fields
    with scopes_disabled():
        assert not ApiToken.objects.filter(name="x").exists()


@pytest.mark.parametrize(("role", "allowed"), [(Role.ADMIN, True), (Role.MANAGER, False)])
def test_console_members_need_the_admin_role(tenant_a: Tenant, role: str, allowed: bool) -> None:
    client = login(tenant_a.users[role])
    assert client.get(TOKENS).status_code == (200 if allowed else 403)
    created = post(client, TOKENS, {"name": "console", "scopes": ["admin"]})
    assert created.status_code == (201 if allowed else 403)


def test_foreign_tokens_are_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    b_token = tenant_b.delivery_objects[ApiToken]
    admin = scoped_client(tenant_a, ["admin"])
    problem_of(admin.get(f"{TOKENS}{b_token.pk}/"), 404)
    assert b_token.name not in admin.get(TOKENS).content.decode()
