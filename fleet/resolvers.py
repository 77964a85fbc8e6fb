"""The fleet app's cross-tenant lookups and owner-run chores (see tenancy/resolvers.py).

Device identifiers are unique across the installation (a tracker sends only its identifier), so
whether one is free is a cross-tenant question; the answer is a yes/no, never whose it is.
Daily position partitions are created and dropped by the owner's functions: the application
role owns no table, and a new partition gets the same row-level security as its parent."""

from __future__ import annotations

import datetime as dt

from tenancy.resolvers import resolver_call, resolver_definition
from tenancy.rls import ORG_EXPR, POLICY, register_resolver_sql

register_resolver_sql(
    resolver_definition(
        "doorstep_device_identifier_taken",
        "wanted text, except_id bigint",
        "boolean",
        "SELECT EXISTS (SELECT 1 FROM fleet_device WHERE identifier = wanted "
        "AND id IS DISTINCT FROM except_id)",
    )
)
register_resolver_sql(
    # The policy text is tenancy.rls's own, so a new partition matches its parent exactly.
    """
CREATE OR REPLACE FUNCTION doorstep_position_partition_create(day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $doorstep$
DECLARE
    name text := 'fleet_position_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF fleet_position FOR VALUES FROM (%L) TO (%L)',
        name, day::text || ' 00:00+00', (day + 1)::text || ' 00:00+00');
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', name);
    EXECUTE format(
        'CREATE POLICY {POLICY} ON %I USING (organization_id = {ORG_EXPR}) '
        'WITH CHECK (organization_id = {ORG_EXPR})', name);
    RETURN true;
END
$doorstep$
""".replace("{POLICY}", POLICY).replace("{ORG_EXPR}", ORG_EXPR.replace("'", "''"))
)
register_resolver_sql(
    """
CREATE OR REPLACE FUNCTION doorstep_position_partition_drop(day date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $doorstep$
DECLARE
    name text := 'fleet_position_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TABLE %I', name);
    RETURN true;
END
$doorstep$
"""
)


def device_identifier_taken(*, identifier: str, except_device_id: int | None = None) -> bool:
    """Whether any organization's device (other than `except_device_id`) has this identifier."""
    rows = resolver_call("doorstep_device_identifier_taken", identifier, except_device_id)
    return bool(rows[0][0])


def position_partition_create(*, day: dt.date) -> bool:
    return bool(resolver_call("doorstep_position_partition_create", day)[0][0])


def position_partition_drop(*, day: dt.date) -> bool:
    return bool(resolver_call("doorstep_position_partition_drop", day)[0][0])
