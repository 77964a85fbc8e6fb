"""Batch order creation through the API: `POST /api/v1/orders/batch/` with 1,000 orders per
request, through a real Daphne server and the whole middleware stack, with a token.

Baseline, in the same run and database: `Order.objects.bulk_create` of the same 1,000 rows
(orders only: no timeline events, no outbox events, no validation), the floor any API could
approach. Target: >= 2,000 orders/s through the API.

    .venv/bin/python bench/api_batch.py              # ~1 minute
    .venv/bin/python bench/api_batch.py --rounds 3 --no-docs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
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

DATABASE = "doorstep_bench_api_batch"
BATCH = 1000
TARGET_PER_SECOND = 2000.0


def seed() -> tuple[int, int, str]:
    """(organization id, hub id, plain API token with the orders scope). Needs django_setup()."""
    from django.db import connections

    from fleet.models import Hub
    from tenancy.api.models import ApiToken
    from tenancy.api.tokens import api_token_create
    from tenancy.context import tenant_context
    from tenancy.models import Organization

    organization = Organization.objects.create(
        name="Batch Bench", slug="batch-bench", timezone="Europe/Amsterdam"
    )
    with tenant_context(organization):
        hub = Hub.objects.create(
            organization=organization,
            name="Bench Hub",
            code="bench",
            latitude=52.37,
            longitude=4.89,
        )
        token, plain = api_token_create(organization_id=organization.pk, name="bench batch")
        if hasattr(ApiToken, "scopes"):
            ApiToken.objects.filter(pk=token.pk).update(scopes=["orders"])
    connections.close_all()
    return organization.pk, hub.pk, plain


def items(hub_id: int, round_number: int, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "reference": f"{prefix}-{round_number:02d}-{number:05d}",
            "customer_name": f"Customer {number}",
            "address": f"{number} Bench Street, Amsterdam",
            "phone": f"+31 6{number:08d}",
            "hub": hub_id,
            "latitude": 52.3 + (number % 100) * 0.001,
            "longitude": 4.8 + (number // 100) * 0.001,
            "window_start": "2030-05-01T10:00:00+02:00",
            "window_end": "2030-05-01T12:00:00+02:00",
            "weight_kg": 2.5,
        }
        for number in range(BATCH)
    ]


def api_rounds(port: int, token: str, hub_id: int, rounds: int) -> list[float]:
    import httpx

    seconds = []
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=f"http://{HOST}:{port}", headers=headers, timeout=120) as client:
        # One warm-up batch: the first request of a process imports and compiles lazily.
        warm = client.post("/api/v1/orders/batch/", json={"orders": items(hub_id, 99, "W")})
        assert warm.status_code == 207, warm.text[:500]
        for number in range(rounds):
            body = {"orders": items(hub_id, number, "API")}
            started = time.perf_counter()
            response = client.post("/api/v1/orders/batch/", json=body)
            seconds.append(time.perf_counter() - started)
            answer = response.json()
            if response.status_code != 207 or answer["created"] != BATCH:
                raise RuntimeError(f"batch {number}: {response.status_code} {response.text[:500]}")
    return seconds


def bulk_rounds(organization_id: int, hub_id: int, rounds: int) -> list[float]:
    import datetime as dt

    from django.db import connections

    from deliveries.models import Order
    from deliveries.models.orders import tracking_code_new
    from tenancy.context import tenant_context

    seconds = []
    with tenant_context(organization_id):
        for number in range(rounds):
            rows = items(hub_id, number, "BULK")
            started = time.perf_counter()
            orders = []
            for row in rows:
                values = {k: v for k, v in row.items() if k != "hub"}
                for name in ("window_start", "window_end"):
                    values[name] = dt.datetime.fromisoformat(values[name])
                orders.append(
                    Order(
                        organization_id=organization_id,
                        hub_id=hub_id,
                        tracking_code=tracking_code_new(),
                        **values,
                    )
                )
            Order.objects.bulk_create(orders, batch_size=BATCH)
            seconds.append(time.perf_counter() - started)
    connections.close_all()
    return seconds


def rate(seconds: list[float]) -> float:
    return BATCH * len(seconds) / sum(seconds)


def report(facts: dict[str, str], api: list[float], bulk: list[float], load: float) -> str:
    api_rate, bulk_rate = rate(api), rate(bulk)
    rows = [
        [
            "API batch (Daphne, token, 207 per item)",
            f"{api_rate:,.0f}",
            f"{percentile(api, 50) * 1000:.0f}",
            f"{max(api) * 1000:.0f}",
        ],
        [
            "baseline: bulk_create of the same rows",
            f"{bulk_rate:,.0f}",
            f"{percentile(bulk, 50) * 1000:.0f}",
            f"{max(bulk) * 1000:.0f}",
        ],
    ]
    return "\n".join(
        [
            f"### Batch order creation through the API ({today()})",
            "",
            f"`bench/api_batch.py`: {len(api)} requests of {BATCH} orders each (after one "
            "warm-up) against one Daphne process; each order is validated, written with its "
            "`created` timeline event and `order.created` outbox event and answered per item.",
            "",
            table(rows, ["path", "orders/s", "p50 per 1,000 (ms)", "max per 1,000 (ms)"]),
            "",
            f"Target >= {TARGET_PER_SECOND:,.0f} orders/s through the API: "
            f"**{verdict(api_rate >= TARGET_PER_SECOND)}** ({api_rate / bulk_rate:.0%} of the "
            "bare bulk_create). Machine: "
            f"{machine_line(facts)}; other processes used {load:.2f} cores meanwhile.",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    db_url = recreate_database(DATABASE)
    try:
        facts = machine_facts(db_url)
        print_facts(facts)
        migrate(db_url, DATABASE)
        django_setup(db_url)
        organization_id, hub_id, token = seed()
        wait_for_quiet(max_wait=60, threshold=0.5)
        with (
            tempfile.TemporaryDirectory() as tmp,
            Daphne(db_url, Path(tmp) / "daphne.log") as server,
        ):
            load = OtherLoad(server.pids())
            api = api_rounds(server.port, token, hub_id, args.rounds)
            bulk = bulk_rounds(organization_id, hub_id, args.rounds)
            other = load.cores()
    finally:
        drop_database(DATABASE)
    markdown = report(facts, api, bulk, other)
    say(markdown)
    if not args.no_docs:
        write_section("api-batch", markdown)
    return 0 if rate(api) >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
