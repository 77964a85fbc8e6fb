"""The alerts app's one cross-tenant question (see tenancy/resolvers.py): which organizations
have enabled rules, for the beat sweep's fan-out (one task per organization)."""

from __future__ import annotations

from tenancy.resolvers import resolver_call, resolver_definition
from tenancy.rls import register_resolver_sql

register_resolver_sql(
    resolver_definition(
        "doorstep_alerts_organizations_with_rules",
        "",
        "SETOF bigint",
        "SELECT DISTINCT organization_id FROM alerts_alertrule WHERE enabled",
    )
)


def alerts_organizations_with_rules() -> list[int]:
    return sorted(int(row[0]) for row in resolver_call("doorstep_alerts_organizations_with_rules"))
