"""API token reads and writes, and the token's one cross-tenant lookup (by its hash, before any
organization is known: tenancy/resolvers.py)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..context import require_organization, tenant_context
from ..db.rows import RowReader
from ..errors import Conflict, PermissionDenied
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


# hash -> (organization id, token id) of tokens this process has located: the pair never
# changes for a hash, so only the first request of a token asks the resolver. It is not the
# check: api_token_get reads the token (active, in its organization) on every request, so a
# revoked or deleted token is refused at once. Bounded: cleared when full.
_located: dict[str, tuple[int, int]] = {}
LOCATED_MAX = 4096


def api_token_locate(*, token_hash: str, remembered: bool = True) -> tuple[int, int] | None:
    """(organization id, token id) of the API token with this hash (active when first
    located; api_token_get decides whether it still is). `remembered=False` asks the resolver
    again (and remembers its answer)."""
    located = _located.get(token_hash) if remembered else None
    if located is not None:
        return located
    _located.pop(token_hash, None)
    rows = resolver_call("doorstep_api_token_by_hash", token_hash)
    if not rows:
        return None  # not remembered: a token created later must be found
    if len(_located) >= LOCATED_MAX:
        _located.clear()
    located = _located[token_hash] = (int(rows[0][0]), int(rows[0][1]))
    return located


def api_token_authenticate(*, token_hash: str) -> ApiToken | None:
    """The active API token with this hash, read (and touched) in its organization's context;
    None for no such token. A remembered location that no longer holds the token (deleted, or
    another token now has the hash) is asked again once."""
    for remembered in (True, False):
        located = api_token_locate(token_hash=token_hash, remembered=remembered)
        if located is None:
            return None
        organization_id, token_id = located
        with tenant_context(organization_id):
            token = api_token_get(organization_id=organization_id, token_id=token_id)
            if token is not None:
                api_token_touch(token=token)
                return token
    return None


# Every API request reads its token: SQL built once (tenancy/db/rows.py).
_ACTIVE_TOKEN = RowReader(
    ApiToken,
    where="row.organization_id = %s AND row.id = %s AND row.active",
    related=("organization",),
)


def api_token_get(*, organization_id: int, token_id: int) -> ApiToken | None:
    """The organization's active token `token_id` (as its resolver located it), with its
    organization; None once it is revoked or deleted. Read on every request, never
    remembered: a revocation holds from the next request on."""
    require_organization(organization_id)
    return _ACTIVE_TOKEN.get(organization_id, token_id)


def api_token_touch(*, token: ApiToken, now: dt.datetime | None = None) -> None:
    """Record the token's use, at most once a minute so busy integrations do not write per call."""
    require_organization(token.organization_id)
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(organization_id=token.organization_id, pk=token.pk).update(
            last_used_at=now
        )
        token.last_used_at = now


def api_token_list(*, organization_id: int) -> QuerySet[ApiToken]:
    require_organization(organization_id)
    return ApiToken.objects.filter(organization_id=organization_id)


def api_token_create(
    *,
    organization_id: int,
    name: str,
    scopes: list[str] | None = None,
    granted_by: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its plain value, which is shown once and never stored (only its hash).

    `granted_by`: the token that asks for it, which cannot hand out a scope it does not hold
    itself (PermissionDenied); a console admin (no token) may grant any scope."""
    require_organization(organization_id)
    wanted = list(dict.fromkeys(scopes)) if scopes is not None else None
    if granted_by is not None and wanted is not None:
        beyond = [scope for scope in wanted if not granted_by.allows(scope)]
        if beyond:
            raise PermissionDenied(
                f"A token cannot grant scopes it does not hold: {', '.join(beyond)}."
            )
    token = ApiToken(organization_id=organization_id, name=(name or "").strip())
    if wanted is not None:
        token.scopes = wanted
    plain = token.set_token()
    token.full_clean(exclude=["organization"])
    token.save()
    return token, plain


def api_token_revoke(
    *, organization_id: int, token_id: int, revoked_by: ApiToken | None = None
) -> ApiToken:
    """Switch the token off for good: it authenticates nothing from its next request on.
    Revoking a revoked token changes nothing. A token cannot revoke itself (Conflict): the
    integration would lock itself out mid-rotation; revoke the old token with its successor.
    Raises ApiToken.DoesNotExist for a foreign id."""
    require_organization(organization_id)
    if revoked_by is not None and revoked_by.pk == token_id:
        raise Conflict("A token cannot revoke itself: use another admin token or the console.")
    with transaction.atomic():
        token = api_token_list(organization_id=organization_id).select_for_update().get(pk=token_id)
        if token.active:
            token.active = False
            token.save(update_fields=["active", "updated_at"])
    return token
