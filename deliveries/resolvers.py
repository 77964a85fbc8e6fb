"""The deliveries app's cross-tenant lookups (see tenancy/resolvers.py): each answers one
question with ids, and the caller enters the organization's context for everything else."""

from __future__ import annotations

import datetime as dt

from tenancy.resolvers import resolver_call, resolver_definition
from tenancy.rls import register_resolver_sql

register_resolver_sql(
    resolver_definition(
        "doorstep_order_by_tracking_code",
        "code text",
        "TABLE(organization_id bigint, order_id bigint)",
        "SELECT organization_id, id FROM deliveries_order WHERE tracking_code = code LIMIT 1",
    )
)
register_resolver_sql(
    resolver_definition(
        "doorstep_tracking_codes_taken",
        "codes text[]",
        "SETOF text",
        "SELECT tracking_code FROM deliveries_order WHERE tracking_code = ANY(codes)",
    )
)
register_resolver_sql(
    resolver_definition(
        "doorstep_webhook_organizations_due",
        "cutoff timestamptz",
        "SETOF bigint",
        "SELECT DISTINCT organization_id FROM deliveries_webhookdelivery "
        "WHERE status IN ('pending', 'retrying') AND next_attempt_at < cutoff",
    )
)

# Mirrors deliveries.services.eta.route_ids_due_for_refresh: routes on the road whose vehicle
# reported after their ETAs were last computed. Organization ids only.
register_resolver_sql(
    resolver_definition(
        "doorstep_route_etas_organizations_due",
        "",
        "SETOF bigint",
        "SELECT DISTINCT r.organization_id FROM deliveries_route r "
        "JOIN fleet_vehiclestate s ON s.vehicle_id = r.vehicle_id "
        "WHERE r.status IN ('dispatched', 'in_progress') AND s.server_time > COALESCE("
        "(SELECT max(t.eta_updated_at) FROM deliveries_stop t WHERE t.route_id = r.id), "
        "'-infinity'::timestamptz)",
    )
)


def order_locate_by_tracking_code(*, code: str) -> tuple[int, int] | None:
    """(organization id, order id) of the order with this public tracking code."""
    rows = resolver_call("doorstep_order_by_tracking_code", code)
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def tracking_codes_taken(*, codes: list[str]) -> set[str]:
    """Which of these tracking codes any organization already uses (they are global)."""
    return {row[0] for row in resolver_call("doorstep_tracking_codes_taken", codes)}


def webhook_organizations_due(*, cutoff: dt.datetime) -> list[int]:
    """Organizations with webhook deliveries waiting past `cutoff` (the resend sweep)."""
    return [int(row[0]) for row in resolver_call("doorstep_webhook_organizations_due", cutoff)]


def route_etas_organizations_due() -> list[int]:
    """Organizations with a route on the road whose vehicle moved since its last ETA refresh
    (the beat's fan-out: one refresh task each)."""
    return sorted(int(row[0]) for row in resolver_call("doorstep_route_etas_organizations_due"))
