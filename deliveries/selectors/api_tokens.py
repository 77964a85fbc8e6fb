"""API token reads."""

from __future__ import annotations

from tenancy.context import require_organization

from ..models import ApiToken


def api_token_get(*, organization_id: int, token_id: int) -> ApiToken | None:
    """The organization's token `token_id` (as its resolver located it), with its organization."""
    require_organization(organization_id)
    tokens = ApiToken.objects.filter(organization_id=organization_id, pk=token_id)
    return tokens.select_related("organization").first()
