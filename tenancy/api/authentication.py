"""API authentication: per-integration tokens, and the console's session for its own users."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from ..tokens import token_hash
from .models import ApiToken
from .ratelimit import client_ip, rate_limit_hit
from .tokens import api_token_authenticate


class IntegrationUser:
    """`request.user` of a token request: authenticated, but not a person (no actor)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken) -> None:
        self.token = token
        self.username = f"token:{token.name}"

    def __str__(self) -> str:
        return self.username


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <token>`. Sets `request.organization` to the token's organization;
    the API views enter that organization's scope (see tenancy.api.views.OrganizationApiView)."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Expected 'Authorization: Token <token>'.")
        try:
            plain = parts[1].decode()
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed("Invalid token.") from exc
        # The token is what tells us the organization: its resolver answers before any context;
        # the token is then read and touched inside that organization's context.
        token = api_token_authenticate(token_hash=token_hash(plain))
        if token is None:
            self.count_bad_token(request)
            raise AuthenticationFailed("Invalid or inactive token.")
        django_request = request._request
        django_request.organization = token.organization  # type: ignore[attr-defined]
        django_request.membership = None  # type: ignore[attr-defined]
        return IntegrationUser(token), token

    @staticmethod
    def count_bad_token(request: Request) -> None:
        """Wrong tokens from one address are counted; past the allowance every further
        attempt (right or wrong) from it waits out the window: guessing gets slow."""
        retry_after = rate_limit_hit(
            bucket="api-bad-token",
            key=client_ip(request._request) or "unknown",
            limit=settings.API_BAD_TOKENS_PER_IP,
            period=settings.API_RATE_LIMIT_PERIOD,
        )
        if retry_after:
            raise Throttled(wait=retry_after, detail="Too many invalid tokens from this address.")

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token header in the OpenAPI schema."""

    target_class = ApiTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Token <token>`: an API token of your organization (Django admin → API "
                "tokens, or POST /api/v1/tokens/). Its scopes (read, orders, tracking, admin) "
                "decide which operations it may call. Not a device token: trackers send "
                "fixes with their device's own token (`Bearer`, positions batch only)."
            ),
        }
