"""Memory benchmark: Daphne's resident memory over a long run of single-fix OsmAnd ingest at a
paced 2,000 fixes/s (5,000 devices). The baseline is Daphne's RSS after the first minute
(warm-up: imports, device directory, connection buffers); the target is that every later
sample stays within +-10% of it.

    .venv/bin/python bench/memory.py                 # 10 minutes
    .venv/bin/python bench/memory.py --minutes 2     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    Daphne,
    OtherLoad,
    bench_database,
    django_setup,
    machine_facts,
    machine_line,
    migrate,
    osmand_path,
    paced_requests,
    percentile,
    print_facts,
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

MB = 1024 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=int, default=2000, help="paced fixes/s")
    parser.add_argument("--vehicles", type=int, default=5000)
    parser.add_argument("--sample", type=float, default=5, help="seconds between RSS samples")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the baseline")
    parser.add_argument("--max-wait", type=float, default=600)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--processes", type=int, default=1, help="Daphne processes sharing the port (RSS summed)"
    )
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    seconds = args.minutes * 60
    warmup = min(args.warmup, seconds / 5)

    with bench_database(keep=args.keep_db) as db_url:
        facts = machine_facts(db_url)
        print_facts(facts)
        migrate(db_url)
        django_setup(db_url)
        fleet = seed_fleet(args.vehicles)
        n = len(fleet.identifiers)
        with (
            tempfile.TemporaryDirectory(prefix="doorstep-bench-") as tmp,
            Daphne(db_url, Path(tmp) / "daphne.log", processes=args.processes) as server,
        ):
            samples: list[tuple[float, int]] = [(0.0, server.rss_bytes())]
            say(
                f"\nDaphne RSS at start {samples[0][1] / MB:.1f} MiB; {args.rate} fixes/s for "
                f"{args.minutes:g} min, a sample every {args.sample:g} s"
            )
            before = settled_counts(db_url)
            wait_for_quiet(args.max_wait)
            others = OtherLoad(server.pids())
            c0 = server.cpu_seconds()

            def sample(elapsed: float) -> None:
                rss = server.rss_bytes()
                samples.append((elapsed, rss))
                if len(samples) % max(1, int(60 / args.sample)) == 0:
                    say(f"  {elapsed:6.0f} s  RSS {rss / MB:7.1f} MiB")

            result = asyncio.run(
                paced_requests(
                    server.port,
                    rate=args.rate,
                    seconds=seconds,
                    make_request=lambda i: ("GET", osmand_path(n, i), b""),
                    sample_every=args.sample,
                    on_sample=sample,
                )
            )
            samples.append((result.elapsed, server.rss_bytes()))
            cpu = (server.cpu_seconds() - c0) / result.elapsed
            other_cores = others.cores()
            after = settled_counts(db_url)
    stored, rejected = after[0] - before[0], after[1] - before[1]
    baseline = min(samples, key=lambda s: abs(s[0] - warmup))[1]
    later = [rss for t, rss in samples if t >= warmup]
    low, high = min(later), max(later)
    within = all(abs(rss - baseline) <= 0.10 * baseline for rss in later)
    lat = [v * 1000 for v in result.latencies]
    say(
        f"  achieved {result.achieved_rate:,.0f} fixes/s, statuses {result.statuses}, no answer "
        f"{result.errors}, unfinished {result.unfinished}, not sent (client backlog full) "
        f"{result.skipped}; latency p50 {percentile(lat, 50):.1f} ms, p99 {percentile(lat, 99):.1f}"
        f" ms; Daphne CPU {cpu:.0%}; other processes {other_cores:.2f} cores"
    )
    say(
        f"  RSS first {samples[0][1] / MB:.1f} MiB, after warm-up ({warmup:.0f} s) "
        f"{baseline / MB:.1f} MiB, last {samples[-1][1] / MB:.1f} MiB, min {low / MB:.1f} MiB, "
        f"max {high / MB:.1f} MiB after warm-up"
    )
    say(
        f"  within +-10% of the warm-up RSS: {verdict(within)} "
        f"({(low / baseline - 1):+.1%} .. {(high / baseline - 1):+.1%})"
    )
    lost = result.errors + result.unfinished  # may have been stored without an answer
    stored_ok = rejected == 0 and result.ok <= stored <= result.ok + lost
    say(
        f"  check: 200 acks {result.ok}, rows stored {stored} (requests without an answer "
        f"{lost}), refused {rejected}: {verdict(stored_ok)}"
    )
    rows = [
        [
            "Daphne RSS after warm-up -> last",
            f"{samples[-1][1] / MB:.1f} MiB",
            f"{baseline / MB:.1f} MiB at {warmup:.0f} s",
            f"{samples[-1][1] / baseline:.3f}x",
            "within +-10%",
            verdict(abs(samples[-1][1] - baseline) <= 0.1 * baseline),
        ],
        [
            "Daphne RSS min / max after warm-up",
            f"{low / MB:.1f} / {high / MB:.1f} MiB",
            f"{baseline / MB:.1f} MiB",
            f"{low / baseline:.3f}x / {high / baseline:.3f}x",
            "within +-10%",
            verdict(within),
        ],
        ["Daphne RSS at start (idle)", f"{samples[0][1] / MB:.1f} MiB", "", "", "", ""],
        [
            f"fixes/s paced ({args.rate} scheduled)",
            f"{result.achieved_rate:,.0f}",
            f"{args.rate:,}",
            f"{result.achieved_rate / args.rate:.2f}x",
            "",
            f"{result.skipped:,} not sent (client backlog full)",
        ],
        [
            "rows stored vs 200 acks",
            f"{stored:,}",
            f"{result.ok:,} (+{lost:,} unanswered)",
            "",
            "acks <= stored <= acks + unanswered",
            verdict(stored_ok),
        ],
    ]
    markdown = "\n".join(
        [
            f"## Memory (`bench/memory.py --minutes {args.minutes:g}`)",
            "",
            f"Date {today()}; machine: {machine_line(facts)}. "
            f"{'One Daphne process' if args.processes == 1 else f'{args.processes} Daphne processes (RSS summed)'}, single-fix OsmAnd "
            f"at a paced {args.rate:,} fixes/s over {args.vehicles:,} devices for {args.minutes:g} "
            f"min, RSS sampled every {args.sample:g} s. Ack latency p50 {percentile(lat, 50):.1f} ms,"
            f" p99 {percentile(lat, 99):.1f} ms; Daphne CPU {cpu:.0%}; other processes on the "
            f"machine {other_cores:.2f} cores.",
            "",
            table(rows, ["figure", "measured", "baseline", "ratio", "target", "result"]),
        ]
    )
    say("\n" + markdown)
    if not args.no_docs and args.minutes >= 10:
        write_section("memory", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
