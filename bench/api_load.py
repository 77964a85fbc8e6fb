"""API load: 50 concurrent API clients for 60 s reading order details (`GET
/api/v1/orders/{id}/`), each client with its own API token and its own address, against the
production web command (scripts/serve.py, 2 Daphne processes). Target: 0 server errors and
p95 < 200 ms on order detail.

The clients are wrk connections, twice: closed loop (each sends its next request when the last
one was answered, so 50 requests are always in flight: a saturation test), then with a think
time (each waits THINK_MS after an answer: integrations polling their orders); a Lua script gives every request one of 50
tokens and one of 50 client addresses (X-Forwarded-For, as the load balancer in front of the
servers writes it: DOORSTEP_TRUSTED_PROXIES=1), so the per-token and per-address rate limits
see 50 clients, not one, and counts the answers by status.

Baseline, same server, same run, same 50 connections, both ways: `/bench/ok/`, a Django view that answers
"OK" through the whole middleware stack with no authentication and no query (bench/urls.py).

    .venv/bin/python bench/api_load.py                    # ~3 minutes
    .venv/bin/python bench/api_load.py --seconds 20 --no-docs
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

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
    print_facts,
    recreate_database,
    say,
    stop_cleanly_on_sigterm,
    table,
    today,
    verdict,
    wait_for_quiet,
    write_section,
    wrk_path,
)

DATABASE = "doorstep_bench_api_load"
CLIENTS = 50
ORDERS = 2000
TARGET_P95_MS = 200.0
PROCESSES = 2
# The paced runs: each client waits this long after an answer before its next request (an
# integration polling its orders), ~100 requests/s from the 50 when answers are quick.
THINK_MS = 500

# Per request: a token and an address of one of the clients, and one of the orders. Counts the
# answers by status class per thread; done() sums the threads and prints the percentiles.
LUA = r"""
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  tokens = {}
  for token in string.gmatch(args[1], "[^,]+") do table.insert(tokens, token) end
  ids = {}
  for id in string.gmatch(args[2], "[^,]+") do table.insert(ids, id) end
  path = args[3]
  think = tonumber(args[4])
  sent, s2, s3, s4, s5 = 0, 0, 0, 0, 0
end
function delay()
  return think
end
function request()
  sent = sent + 1
  local client = (sent * 7 + tid * 13) % #tokens
  local headers = {}
  if path == "detail" then
    headers["Authorization"] = "Token " .. tokens[client + 1]
  end
  headers["X-Forwarded-For"] = string.format("10.1.%d.%d", tid, client + 1)
  local url = "/bench/ok/"
  if path == "detail" then url = "/api/v1/orders/" .. ids[(sent * 31 + tid) % #ids + 1] .. "/" end
  return wrk.format("GET", url, headers)
end
function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 300 then s3 = s3 + 1
  else s2 = s2 + 1 end
end
function done(summary, latency, requests)
  local t = {s2 = 0, s3 = 0, s4 = 0, s5 = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(t) do t[name] = t[name] + thread:get(name) end
  end
  io.write(string.format("BENCH s2=%d s3=%d s4=%d s5=%d socket=%d\n", t.s2, t.s3, t.s4, t.s5,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("BENCH requests=%d seconds=%.3f p50=%.2f p95=%.2f p99=%.2f max=%.2f\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


@dataclass
class LoadResult:
    label: str
    requests: int
    seconds: float
    statuses: dict[str, int]
    p50: float
    p95: float
    p99: float
    max_ms: float
    other_cores: float
    server_cpu_ms: float  # the Daphne processes' CPU per answer: steady under others' load

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def seed() -> tuple[list[str], list[int]]:
    """One organization with a hub, ORDERS orders and CLIENTS read-only API tokens. Needs
    django_setup()."""
    import datetime as dt

    from django.db import connections

    from deliveries.models import Order
    from deliveries.models.orders import tracking_code_new
    from fleet.models import Hub
    from tenancy.api.models import ApiToken
    from tenancy.api.tokens import api_token_create
    from tenancy.context import tenant_context
    from tenancy.models import Organization

    organization = Organization.objects.create(
        name="Load Bench", slug="load-bench", timezone="Europe/Amsterdam"
    )
    start = dt.datetime(2030, 5, 1, 8, tzinfo=dt.UTC)
    with tenant_context(organization):
        hub = Hub.objects.create(
            organization=organization, name="Hub", code="hub", latitude=52.37, longitude=4.89
        )
        orders = Order.objects.bulk_create(
            Order(
                organization=organization,
                hub=hub,
                reference=f"LOAD-{number:05d}",
                tracking_code=tracking_code_new(),
                customer_name=f"Customer {number}",
                address=f"{number} Load Street",
                latitude=52.3 + number % 100 * 0.001,
                longitude=4.8 + number // 100 * 0.001,
                window_start=start,
                window_end=start + dt.timedelta(hours=2),
            )
            for number in range(ORDERS)
        )
        tokens = []
        for number in range(CLIENTS):
            token, plain = api_token_create(
                organization_id=organization.pk, name=f"client {number}"
            )
            ApiToken.objects.filter(pk=token.pk).update(scopes=["read"])
            tokens.append(plain)
    connections.close_all()
    return tokens, [order.pk for order in orders]


def settle(db_url: str) -> None:
    """The seeded tables as a database in service has them: analyzed (without statistics the
    planner guessed the order by its organization's index, walking all 2,000) and written out
    (a checkpoint in the middle of a run is its tail)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE deliveries_order, deliveries_apitoken, fleet_hub")
        conn.execute("CHECKPOINT")


def run(label: str, server: Daphne, kind: str, tokens: list[str], ids: list[int], seconds: int,
        work: Path, server_pids: set[int], think_ms: int = 0) -> LoadResult:  # fmt: skip
    port = server.port
    lua = work / f"{kind}.lua"
    lua.write_text(LUA)
    args = [wrk_path(), "-t2", f"-c{CLIENTS}", f"-d{seconds}s", "--timeout", "10s", "-s", str(lua)]
    args += [
        f"http://{HOST}:{port}/",
        "--",
        ",".join(tokens),
        ",".join(map(str, ids)),
        kind,
        str(think_ms),
    ]
    say(f"--- {label}: {CLIENTS} connections for {seconds} s")
    load = OtherLoad(server_pids)
    cpu_before = server.cpu_seconds()
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=seconds + 60)
    other = load.cores()
    server_cpu = server.cpu_seconds() - cpu_before
    fields = dict(re.findall(r"(\w+)=([\d.]+)", " ".join(re.findall(r"BENCH (.*)", out.stdout))))
    if "requests" not in fields:
        raise RuntimeError(f"wrk said: {out.stdout}\n{out.stderr}")
    result = LoadResult(
        label=label,
        requests=int(fields["requests"]),
        seconds=float(fields["seconds"]),
        statuses={name: int(fields[name]) for name in ("s2", "s3", "s4", "s5", "socket")},
        p50=float(fields["p50"]),
        p95=float(fields["p95"]),
        p99=float(fields["p99"]),
        max_ms=float(fields["max"]),
        other_cores=other,
        server_cpu_ms=1000 * server_cpu / max(1, int(fields["requests"])),
    )
    say(f"{label}: {result}")
    return result


def passed(detail: LoadResult) -> bool:
    return detail.statuses["s5"] == 0 and detail.statuses["socket"] == 0 and detail.p95 < 200


def report(facts: dict[str, str], results: list[LoadResult], seconds: int, think: int) -> str:
    closed, paced = results[0], results[1]
    rows = [
        [
            result.label,
            f"{result.requests:,}",
            f"{result.rate:,.0f}",
            f"{result.p50:.0f}",
            f"{result.p95:.0f}",
            f"{result.p99:.0f}",
            f"{result.max_ms:.0f}",
            f"{result.server_cpu_ms:.2f}",
            f"{result.statuses['s2']:,} / {result.statuses['s4']:,} / {result.statuses['s5']:,}"
            f" / {result.statuses['socket']}",
            f"{result.other_cores:.2f}",
        ]
        for result in results
    ]
    header = ["path", "answers", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    header += ["server CPU ms per answer"]
    header += ["2xx / 4xx / 5xx / socket errors", "other processes (cores)"]
    return "\n".join(
        [
            f"### API load: 50 concurrent clients on order detail ({today()})",
            "",
            f"`bench/api_load.py`: wrk, {CLIENTS} keep-alive connections for {seconds} s each "
            f"way (closed loop; then {think} ms think time after each answer) against {PROCESSES} Daphne processes (scripts/serve.py); every request "
            f"carries one of {CLIENTS} read-only API tokens and one of {CLIENTS} client addresses "
            f"(X-Forwarded-For, one trusted proxy) and asks for one of {ORDERS:,} orders. "
            "Baseline in the same run, same server and connections: `/bench/ok/`, a Django view "
            "answering OK through the whole middleware stack (no token, no query).",
            "",
            table(rows, header),
            "",
            f"Target 0 server errors and p95 < {TARGET_P95_MS:.0f} ms on order detail: closed "
            f"loop (50 requests always in flight) **{verdict(passed(closed))}**; clients "
            f"that wait {think} ms between requests **{verdict(passed(paced))}**. Machine: "
            f"{machine_line(facts)}; the last column is the CPU other processes (other "
            "engineers' test runs) used meanwhile, of 2 cores. Server CPU per answer: the "
            "Daphne processes' CPU time over the run divided by the answers (the figure that "
            "holds on a busy machine).",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--baseline-seconds", type=int, default=30)
    parser.add_argument("--think-ms", type=int, default=THINK_MS)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    db_url = recreate_database(DATABASE)
    try:
        facts = machine_facts(db_url)
        print_facts(facts)
        migrate(db_url, DATABASE)
        django_setup(db_url)
        tokens, ids = seed()
        settle(db_url)
        wait_for_quiet(max_wait=60, threshold=0.5)
        env = {"DOORSTEP_TRUSTED_PROXIES": "1"}
        with (
            tempfile.TemporaryDirectory() as tmp,
            Daphne(db_url, Path(tmp) / "daphne.log", env=env, processes=PROCESSES) as server,
        ):
            work = Path(tmp)
            # Warm-up: every process imports and compiles lazily on its first requests.
            run("warm-up", server, "detail", tokens, ids, 5, work, server.pids())
            pids = server.pids()
            think = args.think_ms
            results = [
                run("order detail (token), closed loop", server, "detail", tokens, ids,
                    args.seconds, work, pids),
                run(f"order detail (token), {think} ms think time", server, "detail",
                    tokens, ids, args.seconds, work, pids, think),
                run("baseline: /bench/ok/, closed loop", server, "ok", tokens, ids,
                    args.baseline_seconds, work, pids),
                run(f"baseline: /bench/ok/, {think} ms think time", server, "ok", tokens,
                    ids, args.baseline_seconds, work, pids, think),
            ]  # fmt: skip
            log = server.log_tail(20_000)
            if "Traceback" in log:
                say(log)
    finally:
        drop_database(DATABASE)
    markdown = report(facts, results, args.seconds, args.think_ms)
    say(markdown)
    if not args.no_docs:
        write_section("api-load", markdown)
    return 0 if passed(results[0]) and passed(results[1]) else 1


if __name__ == "__main__":
    sys.exit(main())
