"""The organization-wide event feed (tenancy/api/feed.py) against real commits: ordered, cursor
paginated, nothing skipped when transactions commit out of id order, one organization's only."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import Client

from tests.conftest import Tenant
from tests.deliveries.builders import api_token_of

pytestmark = pytest.mark.django_db(transaction=True)

FEED = "/api/v1/events/"


@pytest.fixture
def owner_dsn() -> str:
    """The test database as its owner (bypasses RLS), for writers outside Django's connection."""
    settings = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        host=settings["HOST"] or "127.0.0.1",
        port=str(settings["PORT"] or 5432),
        dbname=settings["NAME"],
        user="postgres",
    )


def insert_event(conn: psycopg.Connection[Any], organization_id: int, kind: str) -> int:
    row = conn.execute(
        "INSERT INTO tenancy_outboxevent (organization_id, kind, aggregate, aggregate_id, "
        "payload, occurred_at, next_attempt_at, relayed_at) "
        "VALUES (%s, %s, 'test', 1, %s, now(), now(), now()) RETURNING id",
        [organization_id, kind, json.dumps({"kind": kind})],
    ).fetchone()
    assert row is not None
    return int(row[0])


def read_all(client: Client, since: str | None = None, limit: int = 2) -> tuple[list[Any], str]:
    """Follow the feed until it has nothing final; (events, cursor to read on from)."""
    events: list[Any] = []
    while True:
        query: dict[str, Any] = {"limit": limit}
        if since:
            query["since"] = since
        response = client.get(FEED, query)
        assert response.status_code == 200, response.content
        body = response.json()
        events.extend(body["results"])
        since = body["next_cursor"]
        if not body["has_more"]:
            return events, since


def read_until(client: Client, since: str, count: int, limit: int = 2) -> tuple[list[Any], str]:
    """Read on until `count` test events arrived: the feed's horizon is the oldest transaction
    running anywhere on the server, which on a shared machine may be another's for a moment."""
    events: list[Any] = []
    deadline = time.monotonic() + 20
    while len(kinds(events)) < count and time.monotonic() < deadline:
        more, since = read_all(client, since, limit)
        events.extend(more)
        if len(kinds(events)) < count:
            time.sleep(0.2)
    return events, since


def kinds(events: list[Any], prefix: str = "t.") -> list[str]:
    return [e["kind"] for e in events if e["kind"].startswith(prefix)]


@pytest.fixture
def alpha_client(tenant_a: Tenant) -> Iterator[Client]:
    yield Client(HTTP_AUTHORIZATION=f"Token {api_token_of('Alpha')}")


def test_events_committed_out_of_id_order_are_not_skipped(
    tenant_a: Tenant, tenant_b: Tenant, alpha_client: Client, owner_dsn: str
) -> None:
    org = tenant_a.organization.pk
    _, cursor = read_all(alpha_client)
    with psycopg.connect(owner_dsn) as slow, psycopg.connect(owner_dsn, autocommit=True) as fast:
        early = insert_event(slow, org, "t.early")  # smaller id, still uncommitted
        late = insert_event(fast, org, "t.late")  # larger id, committed first
        insert_event(fast, tenant_b.organization.pk, "t.bravo")
        assert early < late
        # The later event is committed, but an earlier transaction may still add events
        # before it: the feed holds it back rather than move its cursor past the early one.
        seen, cursor = read_all(alpha_client, cursor)
        assert kinds(seen) == []
        slow.commit()
    seen, cursor = read_until(alpha_client, cursor, 2)
    assert kinds(seen) == ["t.early", "t.late"]
    again, _ = read_all(alpha_client, cursor)
    assert again == []  # nothing twice


def test_the_feed_pages_in_one_order_under_concurrent_commits(
    tenant_a: Tenant, tenant_b: Tenant, alpha_client: Client, owner_dsn: str
) -> None:
    org = tenant_a.organization.pk
    _, start = read_all(alpha_client)
    written: list[str] = []
    with psycopg.connect(owner_dsn, autocommit=True) as writer:
        for batch in range(5):
            for n in range(7):
                kind = f"t.{batch}.{n}"
                insert_event(writer, org, kind)
                written.append(kind)
            insert_event(writer, tenant_b.organization.pk, "t.bravo")
    seen, _ = read_until(alpha_client, start, len(written), limit=3)
    assert kinds(seen) == written  # every one, once, in commit order, only Alpha's
    bravo = Client(HTTP_AUTHORIZATION=f"Token {api_token_of('Bravo')}")
    bravo_seen, _ = read_until(bravo, "", 5, limit=100)
    assert set(kinds(bravo_seen)) == {"t.bravo"}
    assert {e["id"] for e in seen}.isdisjoint({e["id"] for e in bravo_seen})


def test_domain_events_reach_the_feed(tenant_a: Tenant, alpha_client: Client) -> None:
    order = tenant_a.order
    assert order is not None
    response = alpha_client.post(
        f"/api/v1/orders/{order.pk}/transition/",
        {"to_status": "cancelled"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    seen: list[Any] = []
    deadline = time.monotonic() + 20
    while not any(e["aggregate_id"] == order.pk for e in seen) and time.monotonic() < deadline:
        seen, _ = read_all(alpha_client, limit=50)
    changes = [e for e in seen if e["aggregate"] == "order" and e["aggregate_id"] == order.pk]
    assert changes and changes[-1]["kind"].startswith("order.")
    assert changes[-1]["payload"]
