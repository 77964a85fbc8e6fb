"""API clients for tests: a token of chosen scopes, and JSON posts with headers."""

from __future__ import annotations

import uuid
from typing import Any

from django.test import Client
from django_scopes import scopes_disabled

from tenancy.models import ApiToken


def scoped_token(organization: Any, scopes: list[str]) -> tuple[ApiToken, str]:
    """A new token of `organization` with `scopes`, and its plain value."""
    with scopes_disabled():
        token = ApiToken(organization=organization, name=f"t-{uuid.uuid4()}", scopes=scopes)
        plain = token.set_token()
        token.save()
    return token, plain


def scoped_client(tenant: Any, scopes: list[str]) -> Client:
    _, plain = scoped_token(tenant.organization, scopes)
    return Client(HTTP_AUTHORIZATION=f"Token {plain}")


def post(client: Client, url: str, body: Any = None, **headers: str) -> Any:
    return client.post(
        url, {} if body is None else body, content_type="application/json", headers=headers
    )


def patch(client: Client, url: str, body: Any) -> Any:
    return client.patch(url, body, content_type="application/json")
