"""The daily rollup of one day for 200 vehicles, on one worker (goal: < 30 s).

    .venv/bin/python bench/rollup.py [--vehicles 200] [--runs 3] [--no-docs]

The day is bench/fleet_history.py's dataset built for one day in a database of its own
(`doorstep_bench_rollup`, kept for reruns): 200 vans, a fix every 30 s over a 10-hour shift
(1,200 fixes each, 240,000 positions), one route per van with ~25 stops, orders and their
delivery events, all loaded by COPY. The benchmark process times, in one process as a Celery
worker would run it, `rollups_recompute_day` for the whole day (every route-day row, then every
vehicle-day row: fixes read, trips and stops detected, plan versus actual, upserts), `--runs`
times (a recompute overwrites the same rows), and beside it the baseline: the raw SELECT of the
same day's fixes into Python, the floor of any computation that reads them. Figures go into
docs/benchmarks.md (bench:rollup) with the machine and the CPU other processes used meanwhile."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
# The dataset module reads its database name at import: a one-day copy of our own, so the
# dashboard's 90-day dataset is neither rebuilt nor touched.
os.environ.setdefault("DOORSTEP_BENCH_HISTORY_DB", "doorstep_bench_rollup")

from bench import fleet_history  # noqa: E402
from bench._common import (  # noqa: E402
    OtherLoad,
    django_setup,
    machine_facts,
    machine_line,
    print_facts,
    say,
    table,
    today,
    wait_for_quiet,
    write_section,
)

GOAL_SECONDS = 30.0
RAW_SELECT = """
SELECT fix_time, latitude, longitude, speed_kmh, heading, altitude_m, ignition
FROM fleet_position
WHERE organization_id = %s AND fix_time >= %s AND fix_time < %s
ORDER BY vehicle_id, fix_time
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    meta = fleet_history.dataset_ensure(vehicles=args.vehicles, days=1)
    url = fleet_history.database_url()
    facts = machine_facts(url)
    print_facts(facts)
    django_setup(url)

    from django.db import connection

    from reporting.models import DailyRouteRollup, DailyVehicleRollup
    from reporting.rollups import rollups_recompute_day
    from reporting.selectors import LocalDay
    from tenancy.context import tenant_context

    organization_id = int(meta["organization_id"])
    day = fleet_history.LAST_DAY
    local_day = LocalDay.of(day, meta["timezone"])
    wait_for_quiet(max_wait=300)
    load = OtherLoad()
    raw_times, rollup_times, fetched = [], [], 0
    with tenant_context(organization_id):
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(RAW_SELECT, [organization_id, local_day.start, local_day.end])
                fetched = len(cursor.fetchall())
            raw_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            vehicle_rows = rollups_recompute_day(organization_id=organization_id, day=day)
            rollup_times.append(time.perf_counter() - started)
            say(
                f"run {run}: raw SELECT of {fetched:,} fixes {raw_times[-1]:.2f} s; "
                f"rollup of the day {rollup_times[-1]:.2f} s ({vehicle_rows} vehicle rows)"
            )
        route_rows = DailyRouteRollup.objects.filter(day=day).count()
        vehicle_rows = DailyVehicleRollup.objects.filter(day=day).count()
    others = load.cores()
    rollup_s, raw_s = statistics.median(rollup_times), statistics.median(raw_times)
    ok = rollup_s < GOAL_SECONDS
    say(
        f"rollup median {rollup_s:.2f} s (goal < {GOAL_SECONDS:.0f} s: {'PASS' if ok else 'FAIL'}); "
        f"raw SELECT median {raw_s:.2f} s; other processes used {others:.2f} cores"
    )
    if args.no_docs:
        return
    rows = [
        [
            "rollup of the day (`rollups_recompute_day`)",
            f"{rollup_s:.2f} s",
            ", ".join(f"{t:.2f}" for t in rollup_times),
            f"{vehicle_rows} vehicle + {route_rows} route rows",
        ],
        [
            "baseline: raw SELECT of the day's fixes",
            f"{raw_s:.2f} s",
            ", ".join(f"{t:.2f}" for t in raw_times),
            f"{fetched:,} fixes",
        ],
    ]
    markdown = (
        f"### Daily rollup: one day, {args.vehicles} vehicles (`bench/rollup.py`, {today()})\n\n"
        f"{int(meta['positions']):,} positions (a fix every 30 s over a 10-hour shift), "
        f"{meta['routes']} routes, {meta['stops']} stops, {meta['events']} delivery events, "
        f"loaded by COPY; recomputed {args.runs} times in one process (one worker). "
        f"Goal < {GOAL_SECONDS:.0f} s: **{'PASS' if ok else 'FAIL'}** "
        f"({rollup_s / max(raw_s, 1e-9):.1f}x the raw SELECT).\n\n"
        + table(rows, ["what", "median", "runs (s)", "rows"])
        + f"\n\nMachine: {machine_line(facts)}; other processes used {others:.2f} cores on "
        "average during the runs (a shared machine).\n"
    )
    write_section("rollup", markdown)


if __name__ == "__main__":
    main()
