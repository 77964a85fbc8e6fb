"""The outbox insert for writers that do not go through the ORM (the ingest writer commits its
flushes on a raw psycopg connection, as a role of its own): the same row `outbox_emit` writes,
in one statement for any number of events, inside the caller's transaction.

The caller owns what `outbox_emit` does after the commit: asking a worker to relay each
organization's events (`outbox_relay_enqueue`); the beat sweep relays them anyway if it
does not. tests/fleet/test_ingest_sql.py holds the column list to the model."""

from __future__ import annotations

import json
from typing import Any

from .services import EventSpec

# Every column of tenancy_outboxevent but the id (identity) and relayed_at (empty until relayed);
# occurred_at and next_attempt_at are the transaction's time, like outbox_emit's timezone.now().
OUTBOX_INSERT_COLUMNS = (
    "organization_id",
    "kind",
    "aggregate",
    "aggregate_id",
    "payload",
    "occurred_at",
    "next_attempt_at",
)
OUTBOX_INSERT_SQL = (
    f"INSERT INTO tenancy_outboxevent ({', '.join(OUTBOX_INSERT_COLUMNS)}) "  # noqa: S608
    "SELECT organization_id, kind, aggregate, aggregate_id, payload, now(), now() "
    "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::bigint[], %s::text[]::jsonb[]) "
    "AS event(organization_id, kind, aggregate, aggregate_id, payload) "
    "ORDER BY organization_id"
)


def outbox_insert_params(events: list[tuple[int, EventSpec]]) -> tuple[list[Any], ...]:
    """The parameters of OUTBOX_INSERT_SQL for (organization id, event) pairs. Payloads must
    be JSON-safe already (datetimes as ISO strings)."""
    return (
        [organization_id for organization_id, _ in events],
        [spec.kind for _, spec in events],
        [spec.aggregate for _, spec in events],
        [spec.aggregate_id for _, spec in events],
        [json.dumps(spec.payload, separators=(",", ":")) for _, spec in events],
    )
