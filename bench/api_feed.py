"""The event feed under a steady stream: a producer writes 500 domain events/s through the
project's services while an integrator's client follows `GET /api/v1/events/` with its cursor
against a real server (scripts/serve.py, one Daphne process). Target: lag p99 < 2 s, where lag
is the time from the commit of an event's transaction to the moment the client has read it.

The producer calls the order services every 500 ms: `orders_create_batch` with 245 new orders
(245 `order.created` events in one transaction, as an integrator's batch writes them) and
`order_transition` of 5 earlier orders to `cancelled` (5 `order.status_changed` events, one
transaction each), so 500 events/s in 12 transactions per second; it notes each transaction's
commit time (wall clock, after the commit returned) and reports the rate it really achieved (on
a busy machine a single status change took ~75 ms, which is why most events come in batches). The client reads with `limit=500`, at once again while `has_more`, else after
POLL_SECONDS (docs/api.md asks clients to wait a second or two on an empty page; this one
polls faster to keep up).

Baseline in the same run: a reader polling the outbox table directly (`SELECT ... WHERE id > last`
as the owner, no HTTP, no horizon), on the same interval: the lag that the polling interval
and the database alone give.

    .venv/bin/python bench/api_feed.py              # ~3 minutes
    .venv/bin/python bench/api_feed.py --seconds 20 --no-docs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    HOST,
    Daphne,
    OtherLoad,
    django_setup,
    drop_database,
    machine_facts,
    machine_line,
    migrate,
    percentile,
    print_facts,
    recreate_database,
    say,
    stop_cleanly_on_sigterm,
    table,
    today,
    verdict,
    wait_for_quiet,
    write_section,
)

DATABASE = "doorstep_bench_api_feed"
RATE = 500  # events per second
TICK = 0.5
CREATES_PER_TICK = 245
CANCELS_PER_TICK = 5
POLL_SECONDS = 0.25
TARGET_P99_S = 2.0


@dataclass
class Timeline:
    """Event key -> wall time of its commit (producer) and of its read (each reader)."""

    committed: dict[str, float] = field(default_factory=dict)
    read: dict[str, dict[str, float]] = field(default_factory=lambda: {"api": {}, "db": {}})
    transactions: int = 0
    producer_late: float = 0.0  # how far behind its schedule the producer fell at worst
    producer_seconds: float = 0.0  # the producer's wall time, first tick to last commit
    polls: dict[str, int] = field(default_factory=lambda: {"api": 0, "db": 0})
    errors: list[str] = field(default_factory=list)


def event_key(kind: str, payload: dict[str, Any]) -> str:
    return f"{kind}:{payload['order']['reference']}"


def seed() -> tuple[int, int, str]:
    """(organization id, hub id, read-only API token). Needs django_setup()."""
    from django.db import connections

    from fleet.models import Hub
    from tenancy.api.models import ApiToken
    from tenancy.api.tokens import api_token_create
    from tenancy.context import tenant_context
    from tenancy.models import Organization

    organization = Organization.objects.create(
        name="Feed Bench", slug="feed-bench", timezone="Europe/Amsterdam"
    )
    with tenant_context(organization):
        hub = Hub.objects.create(
            organization=organization, name="Hub", code="hub", latitude=52.37, longitude=4.89
        )
        token, plain = api_token_create(organization_id=organization.pk, name="feed reader")
        ApiToken.objects.filter(pk=token.pk).update(scopes=["read"])
    connections.close_all()
    return organization.pk, hub.pk, plain


def order_item(hub_id: int, number: int) -> dict[str, Any]:
    import datetime as dt

    start = dt.datetime(2030, 5, 1, 8, tzinfo=dt.UTC)
    return {
        "reference": f"FEED-{number:07d}",
        "customer_name": f"Customer {number}",
        "address": f"{number} Feed Street",
        "hub": hub_id,
        "latitude": 52.3 + number % 100 * 0.001,
        "longitude": 4.8 + number // 100 % 100 * 0.001,
        "window_start": start,
        "window_end": start + dt.timedelta(hours=2),
    }


def produce(organization_id: int, hub_id: int, seconds: float, timeline: Timeline) -> None:
    """RATE events/s through the services, for `seconds`."""
    from django.db import connections

    from deliveries.services.order_batch import orders_create_batch
    from deliveries.services.orders import order_transition
    from tenancy.context import tenant_context

    created: list[tuple[int, str]] = []  # (id, reference) of orders not cancelled yet
    number = 0
    started = time.time()
    ticks = int(seconds / TICK)
    try:
        with tenant_context(organization_id):
            for tick in range(ticks):
                due = started + tick * TICK
                now = time.time()
                if now < due:
                    time.sleep(due - now)
                timeline.producer_late = max(timeline.producer_late, time.time() - due)
                items = [(i, order_item(hub_id, number + i)) for i in range(CREATES_PER_TICK)]
                number += CREATES_PER_TICK
                results = orders_create_batch(organization_id=organization_id, items=items)
                committed = time.time()
                timeline.transactions += 1
                for result in results:
                    assert result.order is not None, result.errors
                    key = f"order.created:{result.order.reference}"
                    timeline.committed[key] = committed
                    created.append((result.order.id, result.order.reference))
                for order_id, reference in created[:CANCELS_PER_TICK]:
                    order_transition(
                        organization_id=organization_id,
                        order_id=order_id,
                        to_status="cancelled",
                        actor=None,
                        source="api",
                    )
                    timeline.committed[f"order.status_changed:{reference}"] = time.time()
                    timeline.transactions += 1
                del created[:CANCELS_PER_TICK]
    except Exception as exc:
        timeline.errors.append(f"producer: {exc!r}")
        raise
    finally:
        timeline.producer_seconds = time.time() - started
        connections.close_all()


def follow_api(port: int, token: str, stop: threading.Event, timeline: Timeline) -> None:
    """The integrator: follow the feed's cursor from the start."""
    import httpx

    since = ""
    headers = {"Authorization": f"Token {token}"}
    seen = timeline.read["api"]
    with httpx.Client(base_url=f"http://{HOST}:{port}", headers=headers, timeout=30) as client:
        while True:
            params = {"limit": "500", **({"since": since} if since else {})}
            response = client.get("/api/v1/events/", params=params)
            read_at = time.time()
            timeline.polls["api"] += 1
            if response.status_code != 200:
                timeline.errors.append(f"feed {response.status_code}: {response.text[:200]}")
                time.sleep(POLL_SECONDS)
                continue
            page = response.json()
            for event in page["results"]:
                seen.setdefault(event_key(event["kind"], event["payload"]), read_at)
            since = page["next_cursor"]
            if page["has_more"]:
                continue
            if stop.is_set() and len(seen) >= len(timeline.committed):
                return
            time.sleep(POLL_SECONDS)


def follow_db(db_url: str, organization_id: int, stop: threading.Event, timeline: Timeline) -> None:
    """The baseline: the outbox table read directly, by id, on the same interval."""
    import psycopg

    last = 0
    seen = timeline.read["db"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "SELECT set_config('doorstep.organization_id', %s, false)", [str(organization_id)]
        )
        while True:
            rows = conn.execute(
                "SELECT id, kind, payload FROM tenancy_outboxevent WHERE id > %s ORDER BY id",
                [last],
            ).fetchall()
            read_at = time.time()
            timeline.polls["db"] += 1
            for event_id, kind, payload in rows:
                seen.setdefault(event_key(kind, payload), read_at)
                last = max(last, event_id)
            if stop.is_set() and len(seen) >= len(timeline.committed):
                return
            time.sleep(POLL_SECONDS)


def lags(timeline: Timeline, reader: str) -> list[float]:
    read = timeline.read[reader]
    return [max(0.0, read[key] - at) for key, at in timeline.committed.items() if key in read]


def achieved(timeline: Timeline) -> float:
    return len(timeline.committed) / max(timeline.producer_seconds, 1e-9)


def passed(timeline: Timeline) -> bool:
    api = lags(timeline, "api")
    return (
        bool(api)
        and len(api) == len(timeline.committed)
        and percentile(api, 99) < TARGET_P99_S
        and achieved(timeline) >= 0.95 * RATE
    )


def report(facts: dict[str, str], timeline: Timeline, seconds: float, other: float) -> str:
    produced = len(timeline.committed)
    rows = []
    for reader, label in (
        ("api", "feed client (`GET /api/v1/events/`, Daphne, token)"),
        ("db", "baseline: the outbox table polled directly"),
    ):
        values = lags(timeline, reader)
        rows.append(
            [
                label,
                f"{len(values):,} / {produced:,}",
                f"{timeline.polls[reader]:,}",
                f"{percentile(values, 50) * 1000:.0f}" if values else "-",
                f"{percentile(values, 95) * 1000:.0f}" if values else "-",
                f"{percentile(values, 99) * 1000:.0f}" if values else "-",
                f"{max(values) * 1000:.0f}" if values else "-",
            ]
        )
    ok = passed(timeline)
    header = ["reader", "events read", "polls", "lag p50 ms", "p95 ms", "p99 ms", "max ms"]
    return "\n".join(
        [
            f"### Event feed at 500 events/s ({today()})",
            "",
            f"`bench/api_feed.py`: a producer wrote {produced:,} events in "
            f"{timeline.producer_seconds:.0f} s (**{achieved(timeline):,.0f} events/s** "
            f"achieved of {RATE} asked) through the order services in "
            f"{timeline.transactions:,} transactions (every {TICK * 1000:.0f} ms: "
            f"`orders_create_batch` of {CREATES_PER_TICK} orders and {CANCELS_PER_TICK} "
            "`order_transition`s to cancelled, one transaction each; at worst "
            f"{timeline.producer_late * 1000:.0f} ms behind its schedule), while one client "
            "followed the feed's cursor (`limit=500`, again at once while `has_more`, else "
            f"after {POLL_SECONDS * 1000:.0f} ms) against one Daphne process. Lag: the commit of "
            "an event's transaction (producer's wall clock after the commit returned) to the "
            "answer that held it.",
            "",
            table(rows, header),
            "",
            f"Target lag p99 < {TARGET_P99_S:.0f} s at {RATE} events/s (at least 95% of it "
            f"achieved), every event read: **{verdict(ok)}**. "
            f"Machine: {machine_line(facts)}; other processes used {other:.2f} cores meanwhile."
            + (f" Errors: {'; '.join(timeline.errors[:3])}." if timeline.errors else ""),
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    db_url = recreate_database(DATABASE)
    timeline = Timeline()
    try:
        facts = machine_facts(db_url)
        print_facts(facts)
        migrate(db_url, DATABASE)
        django_setup(db_url)
        organization_id, hub_id, token = seed()
        wait_for_quiet(max_wait=60, threshold=0.5)
        with (
            tempfile.TemporaryDirectory() as tmp,
            Daphne(db_url, Path(tmp) / "daphne.log", processes=1) as server,
        ):
            stop = threading.Event()
            readers = [
                threading.Thread(target=follow_api, args=(server.port, token, stop, timeline)),
                threading.Thread(target=follow_db, args=(db_url, organization_id, stop, timeline)),
            ]
            load = OtherLoad(server.pids())
            for reader in readers:
                reader.start()
            try:
                produce(organization_id, hub_id, args.seconds, timeline)
            finally:
                stop.set()
                for reader in readers:
                    reader.join(timeout=120)
            other = load.cores()
    finally:
        drop_database(DATABASE)
    markdown = report(facts, timeline, args.seconds, other)
    say(markdown)
    if not args.no_docs:
        write_section("api-feed", markdown)
    return 0 if passed(timeline) else 1


if __name__ == "__main__":
    sys.exit(main())
