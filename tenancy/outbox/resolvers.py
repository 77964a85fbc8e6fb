"""The outbox's one cross-tenant question (see tenancy/resolvers.py): which organizations have
events waiting. The app role cannot list them itself: row-level security shows it one
organization's rows at a time."""

from __future__ import annotations

import datetime as dt

from tenancy.resolvers import resolver_call, resolver_definition
from tenancy.rls import register_resolver_sql

register_resolver_sql(
    resolver_definition(
        "doorstep_outbox_organizations_pending",
        "cutoff timestamptz",
        "SETOF bigint",
        "SELECT DISTINCT organization_id FROM tenancy_outboxevent "
        "WHERE relayed_at IS NULL AND next_attempt_at <= cutoff",
    )
)


def outbox_organizations_pending(*, cutoff: dt.datetime) -> list[int]:
    """Organizations with events due for relaying at `cutoff`."""
    return [int(row[0]) for row in resolver_call("doorstep_outbox_organizations_pending", cutoff)]
