"""The organization-wide event feed, GET /api/v1/events/?since=<cursor>: every domain event of
the outbox (docs/outbox.md), in one order, a page at a time, so an integrator can sync by
following `next_cursor` forever.

Ids alone are not a safe cursor: ids are taken when an event is written, but become visible when
its transaction commits, so a reader past id 12 would never see 11 committing a moment later.
The feed orders events by (the writing transaction's id, event id) instead, and hands out only
events of transactions older than every transaction of this database still running (the
horizon): such events are final, and any event committed later belongs to a younger
transaction, so it sorts after everything already handed out.

The horizon is the oldest running transaction *of this database*, not the server-wide
`pg_snapshot_xmin`, so another database's long transaction on a shared server holds nothing
back. Which running transactions are ours comes from pg_stat_activity, read in a statement
before the feed's snapshot; a transaction that started after that read is younger than its
`xmax` and counts as ours whatever database it is in (so the horizon is never too late).
The feed lags by as long as the longest transaction of the database (docs/api.md).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection

from ..context import require_organization
from .errors import query_error

RUNNING_SQL = """
SELECT pg_snapshot_xmax(pg_current_snapshot())::text,
       COALESCE(array_agg(backend_xid::text), '{}')
FROM pg_stat_activity
WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
"""
FEED_SQL = """
WITH horizon AS (
    SELECT COALESCE(min(x), pg_snapshot_xmax(pg_current_snapshot())) AS txid
    FROM pg_snapshot_xip(pg_current_snapshot()) AS x
    WHERE x::xid::text = ANY(%s::text[]) OR x >= %s::text::xid8
)
SELECT id, kind, aggregate, aggregate_id, payload, occurred_at, txid::text
FROM tenancy_outboxevent
WHERE organization_id = %s
  AND (txid, id) > (%s::text::xid8, %s)
  AND txid < (SELECT txid FROM horizon)
ORDER BY txid, id
LIMIT %s
"""


@dataclass(frozen=True)
class FeedEvent:
    id: int
    kind: str
    aggregate: str
    aggregate_id: int
    payload: dict[str, Any]
    occurred_at: dt.datetime


@dataclass(frozen=True)
class FeedPage:
    events: list[FeedEvent]
    next_cursor: str
    has_more: bool


def cursor_encode(txid: int, event_id: int) -> str:
    raw = json.dumps([txid, event_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str | None) -> tuple[int, int]:
    """(transaction id, event id) after which to read; (0, 0) reads from the start."""
    if not cursor:
        return 0, 0
    try:
        txid, event_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(txid, int) and isinstance(event_id, int)) or min(txid, event_id) < 0:
            raise ValueError("not a cursor")
        if max(txid, event_id) >= 2**63:
            raise ValueError("out of range")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise query_error("since", "Not a cursor this feed gave out.") from exc
    return txid, event_id


def event_feed_page(*, organization_id: int, since: str | None, limit: int) -> FeedPage:
    """The organization's events after `since`, at most `limit`; the cursor to read on from
    (the same cursor again when nothing new is final yet)."""
    require_organization(organization_id)
    txid, event_id = cursor_decode(since)
    with connection.cursor() as cursor:
        cursor.execute(RUNNING_SQL)
        xmax, running = cursor.fetchone()
        cursor.execute(
            FEED_SQL, [list(running), xmax, organization_id, str(txid), event_id, limit + 1]
        )
        rows = cursor.fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    events = [
        FeedEvent(
            id=row[0],
            kind=row[1],
            aggregate=row[2],
            aggregate_id=row[3],
            payload=row[4] if isinstance(row[4], dict) else json.loads(row[4]),
            occurred_at=row[5],
        )
        for row in rows
    ]
    next_cursor = cursor_encode(int(rows[-1][6]), rows[-1][0]) if rows else (since or "")
    return FeedPage(
        events=events, next_cursor=next_cursor or cursor_encode(0, 0), has_more=has_more
    )
