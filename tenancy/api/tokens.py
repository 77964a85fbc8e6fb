"""API token reads and writes, and the token's one cross-tenant lookup (by its hash, before any
organization is known: tenancy/resolvers.py)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ..context import require_organization
from ..resolvers import resolver_call, resolver_definition
from ..rls import register_resolver_sql
from .models import ApiToken

register_resolver_sql(
    resolver_definition(
        "doorstep_api_token_by_hash",
        "digest text",
        "TABLE(organization_id bigint, token_id bigint)",
        "SELECT organization_id, id FROM deliveries_apitoken "
        "WHERE token_hash = digest AND active LIMIT 1",
    )
)


def api_token_locate(*, token_hash: str) -> tuple[int, int] | None:
    """(organization id, token id) of the active API token with this hash."""
    rows = resolver_call("doorstep_api_token_by_hash", token_hash)
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def api_token_get(*, organization_id: int, token_id: int) -> ApiToken | None:
    """The organization's token `token_id` (as its resolver located it), with its organization."""
    require_organization(organization_id)
    tokens = ApiToken.objects.filter(organization_id=organization_id, pk=token_id)
    return tokens.select_related("organization").first()


def api_token_touch(*, token: ApiToken, now: dt.datetime | None = None) -> None:
    """Record the token's use, at most once a minute so busy integrations do not write per call."""
    require_organization(token.organization_id)
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(organization_id=token.organization_id, pk=token.pk).update(
            last_used_at=now
        )
        token.last_used_at = now


def api_token_create(*, organization_id: int, name: str) -> tuple[ApiToken, str]:
    """A new token and its plain value, which is shown once and never stored."""
    require_organization(organization_id)
    token = ApiToken(organization_id=organization_id, name=name)
    plain = token.set_token()
    token.full_clean(exclude=["organization"])
    token.save()
    return token, plain
