"""API token writes: issue a token, record its use."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tenancy.context import require_organization

from ..models import ApiToken


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
