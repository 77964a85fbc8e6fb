"""Ingest benchmark: one Daphne process, the machine's PostgreSQL, a fleet of 5,000 devices.

(a) single-fix OsmAnd requests/s (wrk, every request a distinct fix, all stored and vehicle
    state updated) vs two baselines, same wrk settings, alternating rounds: a trivial Django
    view returning "OK" on the same Daphne (target: OsmAnd >= 2x it), and a bare ASGI app
    answering "OK" to the same OsmAnd requests (bench/bare_asgi.py), served by its own
    scripts/serve.py + Daphne alike: the server's own ceiling, reported as a ratio.
(b) JSON batch API fixes/s (N concurrent clients, 1,000 fixes per request) vs a bare psycopg
    COPY of the same rows into the same table. Targets: >= 20,000 fixes/s and >= 0.1x COPY.
(c) p99 acknowledgement latency of single-fix OsmAnd at a paced (open-loop) 2,000 fixes/s,
    after a CHECKPOINT (the rows of (a) and (b) written out first). Target: p99 < 200 ms.
After each part: the rows stored equal the 200 acknowledgements.

    .venv/bin/python bench/ingest.py            # ~3 minutes
    .venv/bin/python bench/ingest.py --quick    # ~1 minute, for a look
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BENCH_PREFIX,
    BENCH_TOKEN,
    HOST,
    WRK_OSMAND_LUA,
    Daphne,
    Fleet,
    OtherLoad,
    RawConnection,
    bench_database,
    checkpoint,
    django_setup,
    machine_facts,
    machine_line,
    migrate,
    osmand_path,
    paced_requests,
    percentile,
    print_facts,
    rejected_reasons,
    run_wrk,
    say,
    seed_fleet,
    settled_counts,
    stop_cleanly_on_sigterm,
    table,
    today,
    verdict,
    wait_for_quiet,
    write_section,
)


class BareDaphne(Daphne):
    """The bare ASGI baseline, started exactly as the ingest server (scripts/serve.py)."""

    def command(self) -> list[str]:
        command = super().command()
        script = command.index("--processes")
        return [
            *command[:script],
            "--application",
            "bench.bare_asgi:application",
            *command[script:],
        ]


class Clock:
    """Fix times for the synthetic load: start in the recent past and only ever move forward,
    so every fix is new (no duplicates) and advances its vehicle's state."""

    def __init__(self) -> None:
        self.ms = int(time.time() * 1000) - 290_000

    def take(self, span_ms: int) -> int:
        start = self.ms
        self.ms += span_ms + 1000
        return start


def part_a(
    server: Daphne, bare: Daphne, fleet: Fleet, db_url: str, clock: Clock, args: Any, work: Path
) -> dict[str, Any]:
    say(
        "\n(a) single-fix OsmAnd vs trivial Django view vs bare ASGI 'OK', wrk "
        f"-t{args.threads} -c{args.connections} -d{args.seconds}s, {args.rounds} alternating rounds"
    )
    base_url = f"http://{HOST}:{server.port}"
    n = len(fleet.identifiers)

    def osmand(seconds: int, url: str = base_url) -> Any:
        # A pass over the fleet is one second of fix time; bound the passes by a generous rate.
        passes = seconds * 20_000 // n + 2
        base = clock.take(passes * 1000) // 1000
        return run_wrk(
            f"{url}/ingest/osmand/",
            seconds=seconds,
            connections=args.connections,
            threads=args.threads,
            script=WRK_OSMAND_LUA,
            script_args=[str(base), str(n), str(args.threads), BENCH_PREFIX],
            workdir=work,
        )

    def trivial(seconds: int) -> Any:
        return run_wrk(
            f"{base_url}/bench/ok/",
            seconds=seconds,
            connections=args.connections,
            threads=args.threads,
            workdir=work,
        )

    bare_url = f"http://{HOST}:{bare.port}"
    trivial(3)  # warm-up: imports, URL resolver, thread pool
    osmand(3)  # warm-up: device directory, writer connection
    osmand(3, bare_url)
    trivial_runs, osmand_runs, bare_runs = [], [], []
    acks = sent = 0
    cpu = {"trivial": 0.0, "osmand": 0.0, "bare": 0.0}
    before = settled_counts(db_url)
    wait_for_quiet(args.max_wait)
    others = OtherLoad(server.pids() | bare.pids())
    for _ in range(args.rounds):
        c0 = server.cpu_seconds()
        t = trivial(args.seconds)
        c1 = server.cpu_seconds()
        o = osmand(args.seconds)
        c2 = server.cpu_seconds()
        b0 = bare.cpu_seconds()
        b = osmand(args.seconds, bare_url)
        b1 = bare.cpu_seconds()
        cpu["trivial"] += (c1 - c0) / args.seconds / args.rounds
        cpu["osmand"] += (c2 - c1) / args.seconds / args.rounds
        cpu["bare"] += (b1 - b0) / args.seconds / args.rounds
        trivial_runs.append(t)
        osmand_runs.append(o)
        bare_runs.append(b)
        acks += o.ok
        sent += o.sent
        say(
            f"  trivial {t.rps:8.0f} req/s (non-2xx {t.non2xx}, errors {t.errors}, p99 {t.p99_ms:.1f} ms)"
            f" | osmand {o.rps:8.0f} req/s (non-2xx {o.non2xx}, errors {o.errors}, p99 {o.p99_ms:.1f} ms)"
            f" | bare ASGI {b.rps:8.0f} req/s (non-2xx {b.non2xx}, errors {b.errors}, p99 {b.p99_ms:.1f} ms)"
        )
    other_cores = others.cores()
    after = settled_counts(db_url)  # requests in flight when wrk stopped finish on the server
    stored, rejected = after[0] - before[0], after[1] - before[1]
    trivial_rps = sum(r.rps for r in trivial_runs) / len(trivial_runs)
    osmand_rps = sum(r.rps for r in osmand_runs) / len(osmand_runs)
    bare_rps = sum(r.rps for r in bare_runs) / len(bare_runs)
    in_flight = sent - sum(r.completed for r in osmand_runs)
    say(f"  other processes used {other_cores:.2f} cores meanwhile")
    say(f"  trivial view: {trivial_rps:.0f} req/s (Daphne CPU {cpu['trivial']:.0%})")
    say(f"  bare ASGI:    {bare_rps:.0f} req/s (Daphne CPU {cpu['bare']:.0%})")
    say(f"  OsmAnd:       {osmand_rps:.0f} req/s (Daphne CPU {cpu['osmand']:.0%})")
    say(
        f"  ratio {osmand_rps / trivial_rps:.2f}x (target >= 2x): {verdict(osmand_rps >= 2 * trivial_rps)}"
    )
    say(f"  ratio to the bare ASGI app {osmand_rps / bare_rps:.2f}x")
    say(
        f"  check: 200 acks {acks}, rows stored {stored}, refused {rejected}, requests still in "
        f"flight when wrk stopped {in_flight} (stored may exceed acks by at most that)"
    )
    stored_ok = acks <= stored <= acks + in_flight and rejected == 0
    say(f"  stored == acknowledged (+ in flight): {verdict(stored_ok)}")
    if rejected:
        say(f"  refusals: {rejected_reasons(db_url)}")
    return {
        "trivial_rps": trivial_rps,
        "osmand_rps": osmand_rps,
        "bare_rps": bare_rps,
        "bare_p99": max(r.p99_ms for r in bare_runs),
        "acks": acks,
        "stored": stored,
        "rejected": rejected,
        "in_flight": in_flight,
        "stored_ok": stored_ok,
        "trivial_p99": max(r.p99_ms for r in trivial_runs),
        "osmand_p99": max(r.p99_ms for r in osmand_runs),
        "cpu": cpu,
        "others": other_cores,
    }


def batch_bodies(
    fleet: Fleet, clock: Clock, requests: int, size: int
) -> list[tuple[bytes, list[tuple[Any, ...]]]]:
    """Request bodies and, for the COPY baseline, the same fixes as fleet_position rows."""
    n = len(fleet.identifiers)
    total = requests * size
    base_ms = clock.take((total // n + 1) * 20)
    server_time = dt.datetime.now(dt.UTC)
    bodies = []
    for r in range(requests):
        fixes, rows = [], []
        for j in range(size):
            k = r * size + j
            device, step = k % n, k // n
            lat, lon = fleet.position(device, step)
            stamp = base_ms + step * 20  # 20 ms apart per device: distinct, never in the future
            fixes.append(
                {
                    "device_id": fleet.identifiers[device],
                    "lat": lat,
                    "lon": lon,
                    "timestamp": stamp,
                    "speed_kmh": 28.0,
                    "battery_pct": 80,
                }
            )
            rows.append(
                (
                    fleet.device_ids[device],
                    fleet.organization_id,
                    fleet.vehicle_ids[device],
                    dt.datetime.fromtimestamp(stamp / 1000, tz=dt.UTC),
                    server_time,
                    lat,
                    lon,
                    28.0,
                    None,
                    None,
                    None,
                    None,
                    80.0,
                    None,
                    "{}",
                )
            )
        bodies.append((json.dumps({"fixes": fixes}, separators=(",", ":")).encode(), rows))
    return bodies


async def run_batches(
    port: int, bodies: list[bytes], clients: int, seconds: float
) -> dict[str, Any]:
    """`clients` connections, each posting its next body as soon as the previous is answered,
    until `seconds` have passed (every request sent is awaited: exact accounting)."""
    loop = asyncio.get_running_loop()
    next_body = 0
    stats: dict[str, Any] = {"requests": 0, "statuses": {}, "summary": {}, "latencies": []}
    stop_at = loop.time() + seconds

    async def client() -> None:
        nonlocal next_body
        conn = await RawConnection.open(port)
        try:
            while loop.time() < stop_at and next_body < len(bodies):
                body = bodies[next_body]
                next_body += 1
                t0 = loop.time()
                status, payload = await conn.request(
                    "POST",
                    "/api/v1/positions/batch/",
                    body,
                    {"Authorization": f"Bearer {BENCH_TOKEN}", "Content-Type": "application/json"},
                )
                stats["latencies"].append(loop.time() - t0)
                stats["requests"] += 1
                stats["statuses"][status] = stats["statuses"].get(status, 0) + 1
                if status == 200:
                    for key, value in json.loads(payload)["summary"].items():
                        stats["summary"][key] = stats["summary"].get(key, 0) + value
        finally:
            conn.close()

    t0 = loop.time()
    await asyncio.gather(*(client() for _ in range(clients)))
    stats["elapsed"] = loop.time() - t0
    stats["sent_bodies"] = next_body
    return stats


def copy_rows(db_url: str, rows: list[tuple[Any, ...]]) -> float:
    """Seconds for one bare COPY of `rows` into fleet_position (emptied first), committed."""
    import psycopg

    from fleet.ingest.copy_encoding import POSITION_COLUMNS

    buffer = io.StringIO()
    for row in rows:
        buffer.write(
            "\t".join(
                r"\N" if v is None else v.isoformat() if isinstance(v, dt.datetime) else str(v)
                for v in row
            )
            + "\n"
        )
    data = buffer.getvalue().encode()
    with psycopg.connect(db_url) as conn:
        conn.execute("TRUNCATE fleet_position")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY fleet_position ({', '.join(POSITION_COLUMNS)}) FROM STDIN") as copy,
        ):
            for offset in range(0, len(data), 1 << 20):
                copy.write(data[offset : offset + (1 << 20)])
        conn.commit()
        return time.perf_counter() - started


def part_b(server: Daphne, fleet: Fleet, db_url: str, clock: Clock, args: Any) -> dict[str, Any]:
    say(
        f"\n(b) JSON batch API, {args.batch_clients} clients x {args.batch_size} fixes per request, "
        f"{args.batch_seconds} s, vs a bare COPY of the same rows"
    )
    requests = int(args.batch_seconds * 80_000 / args.batch_size) + args.batch_clients
    prepared = batch_bodies(fleet, clock, requests, args.batch_size)
    warm = batch_bodies(fleet, clock, 4, args.batch_size)
    asyncio.run(run_batches(server.port, [b for b, _ in warm], 2, 30))
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("TRUNCATE fleet_position")
    before = settled_counts(db_url)
    wait_for_quiet(args.max_wait)
    others = OtherLoad(server.pids())
    c0 = server.cpu_seconds()
    stats = asyncio.run(
        run_batches(server.port, [b for b, _ in prepared], args.batch_clients, args.batch_seconds)
    )
    cpu = (server.cpu_seconds() - c0) / stats["elapsed"]
    other_cores = others.cores()
    after = settled_counts(db_url)
    stored_api = stats["summary"].get("stored", 0)
    stored_db, rejected = after[0] - before[0], after[1] - before[1]
    api_rate = stored_db / stats["elapsed"]
    rows = [row for _, rows in prepared[: stats["sent_bodies"]] for row in rows]
    copy_seconds = copy_rows(db_url, rows)
    copy_rate = len(rows) / copy_seconds
    lat = stats["latencies"]
    say(
        f"  batch API: {api_rate:,.0f} fixes/s ({stats['requests']} requests, statuses "
        f"{stats['statuses']}, request p50 {percentile(lat, 50) * 1000:.0f} ms, p99 "
        f"{percentile(lat, 99) * 1000:.0f} ms, Daphne CPU {cpu:.0%})"
    )
    say(f"  other processes used {other_cores:.2f} cores meanwhile")
    say(f"  bare COPY: {copy_rate:,.0f} rows/s ({len(rows)} rows in {copy_seconds:.2f} s)")
    ratio = api_rate / copy_rate
    say(
        f"  {api_rate:,.0f} fixes/s (target >= 20,000): {verdict(api_rate >= 20_000)}; "
        f"ratio {ratio:.2f}x COPY (target >= 0.1x): {verdict(ratio >= 0.1)}"
    )
    stored_ok = stored_api == stored_db == len(rows) and rejected == 0
    say(
        f"  check: fixes answered 'stored' {stored_api}, rows stored {stored_db}, fixes sent "
        f"{len(rows)}, refused {rejected}: {verdict(stored_ok)}"
    )
    return {
        "api_rate": api_rate,
        "copy_rate": copy_rate,
        "ratio": ratio,
        "stored_ok": stored_ok,
        "stored": stored_db,
        "acks": stored_api,
        "cpu": cpu,
        "p99_request_ms": percentile(lat, 99) * 1000,
        "others": other_cores,
    }


def part_c(server: Daphne, fleet: Fleet, db_url: str, args: Any) -> dict[str, Any]:
    say(
        f"\n(c) OsmAnd acknowledgement latency at a paced {args.rate} fixes/s for "
        f"{args.latency_seconds} s (open loop, latency from each request's scheduled time)"
    )
    n = len(fleet.identifiers)
    before = settled_counts(db_url)
    checkpoint(db_url)
    wait_for_quiet(args.max_wait)
    others = OtherLoad(server.pids())
    c0 = server.cpu_seconds()
    result = asyncio.run(
        paced_requests(
            server.port,
            rate=args.rate,
            seconds=args.latency_seconds,
            make_request=lambda i: ("GET", osmand_path(n, i), b""),
        )
    )
    cpu = (server.cpu_seconds() - c0) / result.elapsed
    other_cores = others.cores()
    after = settled_counts(db_url)
    stored, rejected = after[0] - before[0], after[1] - before[1]
    lat = [v * 1000 for v in result.latencies]
    p50, p90, p99, worst = (percentile(lat, p) for p in (50, 90, 99, 100))
    say(
        f"  achieved {result.achieved_rate:,.0f} fixes/s of {args.rate} scheduled "
        f"({result.scheduled} requests, statuses {result.statuses}, no answer {result.errors}, "
        f"unfinished {result.unfinished}, skipped (client backlog full) {result.skipped}, "
        f"{result.connections} connections, Daphne CPU {cpu:.0%})"
    )
    lost = result.errors + result.unfinished
    say(f"  other processes used {other_cores:.2f} cores meanwhile")
    say(f"  latency p50 {p50:.1f} ms, p90 {p90:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    latency_ok = p99 < 200 and lost + result.skipped == 0
    say(f"  p99 {p99:.1f} ms (target < 200 ms, every request answered): {verdict(latency_ok)}")
    # A request without an answer (client timeout, run over) may still have been stored.
    stored_ok = rejected == 0 and result.ok <= stored <= result.ok + lost
    say(
        f"  check: 200 acks {result.ok}, rows stored {stored} (requests without an answer "
        f"{lost}), refused {rejected}: {verdict(stored_ok)}"
    )
    if rejected:
        say(f"  refusals: {rejected_reasons(db_url)}")
    return {
        "p50": p50,
        "p90": p90,
        "p99": p99,
        "max": worst,
        "achieved": result.achieved_rate,
        "acks": result.ok,
        "stored": stored,
        "stored_ok": stored_ok,
        "cpu": cpu,
        "statuses": result.statuses,
        "errors": result.errors,
        "lost": lost,
        "skipped": result.skipped,
        "latency_ok": latency_ok,
        "others": other_cores,
    }


def server_line(processes: int) -> str:
    if processes == 1:
        return "One Daphne process"
    return f"{processes} Daphne processes on one socket (scripts/serve.py), both sides alike"


def report(
    facts: dict[str, str], a: dict[str, Any], b: dict[str, Any], c: dict[str, Any], args: Any
) -> str:
    machine = machine_line(facts)
    date = today()
    rows = [
        [
            "(a) OsmAnd single fix, requests/s",
            f"{a['osmand_rps']:,.0f}",
            f"trivial Django view {a['trivial_rps']:,.0f} req/s",
            f"{a['osmand_rps'] / a['trivial_rps']:.2f}x",
            ">= 2x",
            verdict(a["osmand_rps"] >= 2 * a["trivial_rps"]),
        ],
        [
            "(a) OsmAnd single fix vs the bare ASGI app",
            f"{a['osmand_rps']:,.0f}",
            f"bare ASGI 'OK' {a['bare_rps']:,.0f} req/s",
            f"{a['osmand_rps'] / a['bare_rps']:.2f}x",
            "(the server's ceiling)",
            "",
        ],
        [
            "(a) rows stored vs 200 acks",
            f"{a['stored']:,} stored",
            f"{a['acks']:,} acks (+{a['in_flight']} in flight at wrk stop)",
            "",
            "acks <= stored <= acks + in flight",
            verdict(a["stored_ok"]),
        ],
        [
            "(b) batch API, fixes/s",
            f"{b['api_rate']:,.0f}",
            f"bare COPY {b['copy_rate']:,.0f} rows/s",
            f"{b['ratio']:.2f}x",
            ">= 20,000/s and >= 0.1x",
            verdict(b["api_rate"] >= 20_000 and b["ratio"] >= 0.1),
        ],
        [
            "(b) rows stored vs 'stored' answers",
            f"{b['stored']:,}",
            f"{b['acks']:,}",
            "",
            "equal",
            verdict(b["stored_ok"]),
        ],
        [
            f"(c) OsmAnd ack p99 at {args.rate}/s paced",
            f"{c['p99']:.1f} ms",
            f"achieved {c['achieved']:,.0f}/s; p50 {c['p50']:.1f} ms, max {c['max']:.1f} ms; "
            f"unanswered {c['lost']:,}, not sent (client backlog full) {c['skipped']:,}",
            f"{c['p99'] / 200:.2f}x of target",
            "< 200 ms, all answered",
            verdict(c["latency_ok"]),
        ],
        [
            "(c) rows stored vs 200 acks",
            f"{c['stored']:,}",
            f"{c['acks']:,} (+{c['lost']:,} unanswered)",
            "",
            "acks <= stored <= acks + unanswered",
            verdict(c["stored_ok"]),
        ],
    ]
    return "\n".join(
        [
            "## Ingest (`bench/ingest.py`)",
            "",
            f"Date {date}; machine: {machine}. {server_line(args.processes)}; wrk -t{args.threads} "
            f"-c{args.connections}, {args.rounds} alternating rounds of {args.seconds} s per side for "
            f"(a); {args.batch_clients} clients x {args.batch_size} fixes for {args.batch_seconds} s "
            f"for (b); {args.latency_seconds} s paced for (c); 5,000 devices; every fix distinct.",
            "",
            table(rows, ["figure", "measured", "baseline", "ratio", "target", "result"]),
            "",
            f"Daphne CPU (share of one core): trivial view {a['cpu']['trivial']:.0%}, bare ASGI "
            f"{a['cpu']['bare']:.0%}, OsmAnd "
            f"{a['cpu']['osmand']:.0%}, batch {b['cpu']:.0%}, paced OsmAnd {c['cpu']:.0%}. "
            f"wrk p99 under saturation: trivial {a['trivial_p99']:.0f} ms, bare ASGI "
            f"{a['bare_p99']:.0f} ms, OsmAnd {a['osmand_p99']:.0f} ms. "
            f"Other processes on the machine used {a['others']:.2f} / {b['others']:.2f} / "
            f"{c['others']:.2f} cores during (a) / (b) / (c).",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=15, help="(a) seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="(a) alternating rounds")
    parser.add_argument("--connections", type=int, default=128, help="(a) wrk connections")
    parser.add_argument("--threads", type=int, default=1, help="(a) wrk threads")
    parser.add_argument("--batch-seconds", type=float, default=20)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--rate", type=int, default=2000, help="(c) paced fixes/s")
    parser.add_argument("--latency-seconds", type=float, default=30)
    parser.add_argument(
        "--max-wait",
        type=float,
        default=600,
        help="seconds to wait for a quiet machine before each part",
    )
    parser.add_argument("--quick", action="store_true", help="short runs, for a look")
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument("--keep-db", action="store_true", help="keep the doorstep_bench database")
    parser.add_argument(
        "--processes", type=int, default=1, help="Daphne processes sharing the port"
    )
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    if args.quick:
        args.seconds, args.rounds, args.batch_seconds, args.latency_seconds = 8, 1, 8, 10

    with bench_database(keep=args.keep_db) as db_url:
        facts = machine_facts(db_url)
        print_facts(facts)
        migrate(db_url)
        django_setup(db_url)
        fleet = seed_fleet(args.vehicles)
        clock = Clock()
        with tempfile.TemporaryDirectory(prefix="doorstep-bench-") as tmp:
            work = Path(tmp)
            with (
                Daphne(db_url, work / "daphne.log", processes=args.processes) as server,
                BareDaphne(db_url, work / "bare.log", processes=args.processes) as bare,
            ):
                try:
                    a = part_a(server, bare, fleet, db_url, clock, args, work)
                    b = part_b(server, fleet, db_url, clock, args)
                    c = part_c(server, fleet, db_url, args)
                except Exception:
                    say("Daphne log tail:\n" + server.log_tail())
                    raise
                errors = [
                    line for line in server.log_tail(20000).splitlines() if "Traceback" in line
                ]
                if errors:
                    say(f"Daphne logged {len(errors)} tracebacks:\n" + server.log_tail())
    markdown = report(facts, a, b, c, args)
    say("\n" + markdown)
    if not args.no_docs and not args.quick:
        write_section("ingest" if args.processes == 1 else "ingest-multi", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
