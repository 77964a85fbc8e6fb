"""Summary report benchmark: a 30-day summary report over all 200 vans of the history dataset,
read from the daily rollups, against the same figures computed from raw positions in the same
run.

    .venv/bin/python bench/summary_report.py [--runs 20] [--baseline-days 2] [--no-docs]

Uses the history dataset (bench/fleet_history.py builds it once into doorstep_bench_history,
200 vans, 90 days, 21.6 million positions, and reuses it). Then:

  1. the rollups of the period's 30 local days (2026-11-01 .. 2026-11-30) are made with the
     project's own rollup code where missing (timed; reused when another benchmark made them);
  2. the summary report (`reporting.reports.services.report_table_build(kind="summary")`, what
     the console, the API and the export task call) is built `--runs` times: p50 / p95, and its
     PDF and XLSX once each;
  3. the baseline: the report's vehicle figures the way a system without rollups answers them,
     each van's fixes of each day read and run through the same trip and stop detection, for
     `--baseline-days` days of the period, extrapolated to 30 days (the full rescan takes
     many minutes on this machine).

Writes the `summary_report` section of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench._common import (  # noqa: E402
    OtherLoad,
    django_setup,
    machine_facts,
    machine_line,
    percentile,
    print_facts,
    say,
    table,
    today,
    verdict,
    write_section,
)
from bench.dashboard import rollups_vacuum  # noqa: E402
from bench.fleet_history import DATABASE, database_url, dataset_ensure  # noqa: E402

TARGET_P95_S = 2.0
PERIOD = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def rollups_ensure(organization_id: int) -> tuple[int, float]:
    """Roll up the period's days that are not rolled up after they ended (the project's code)."""
    from reporting.rollups import rollups_are_final, rollups_recompute_day
    from tenancy.context import tenant_context

    computed, started = 0, time.monotonic()
    with tenant_context(organization_id):
        day = PERIOD[0]
        while day <= PERIOD[1]:
            if not rollups_are_final(organization_id=organization_id, day=day):
                began = time.monotonic()
                rollups_recompute_day(organization_id=organization_id, day=day)
                computed += 1
                say(f"  rolled up {day} in {time.monotonic() - began:.1f} s")
            day += dt.timedelta(days=1)
    rollups_vacuum()
    return computed, time.monotonic() - started


def report_times(organization_id: int, runs: int) -> tuple[list[float], int, dict[str, float]]:
    from reporting.kpis.filters import KpiFilters
    from reporting.reports.files import report_pdf, report_xlsx
    from reporting.reports.services import report_table_build
    from tenancy.context import tenant_context

    filters = KpiFilters(start=PERIOD[0], end=PERIOD[1])
    times: list[float] = []
    with tenant_context(organization_id):
        for _ in range(runs):
            began = time.perf_counter()
            table_ = report_table_build(
                organization_id=organization_id, kind="summary", filters=filters
            )
            times.append(time.perf_counter() - began)
        files = {}
        for name, render in (("pdf", report_pdf), ("xlsx", report_xlsx)):
            began = time.perf_counter()
            render(table_)
            files[name] = time.perf_counter() - began
    return times, len(table_.rows), files


def baseline_seconds_per_day(organization_id: int, days: int) -> tuple[float, int]:
    """The summary's track figures for every van from its raw fixes, per day of the period."""
    from fleet.models import Vehicle
    from reporting import selectors
    from reporting.rollups import speeding_events_count
    from reporting.trips import track_summarize
    from tenancy.context import tenant_context
    from tenancy.models import Organization

    fixes = 0
    with tenant_context(organization_id):
        zone = Organization.objects.get(pk=organization_id).timezone
        settings = selectors.history_settings_get(organization_id=organization_id)
        vehicle_ids = list(
            Vehicle.objects.filter(organization_id=organization_id).values_list("pk", flat=True)
        )
        began = time.perf_counter()
        for offset in range(days):
            local_day = selectors.LocalDay.of(PERIOD[1] - dt.timedelta(days=offset), zone)
            for vehicle_id in vehicle_ids:
                track = selectors.vehicle_track(
                    organization_id=organization_id, vehicle_id=vehicle_id,
                    start=local_day.start, end=local_day.end,
                )  # fmt: skip
                day_fixes = track.fixes()
                fixes += len(day_fixes)
                track_summarize(day_fixes, settings)
                speeding_events_count(
                    day_fixes, threshold_kmh=90.0, gap_seconds=settings.gap_seconds
                )
        return (time.perf_counter() - began) / days, fixes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-days", type=int, default=2)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()

    meta = dataset_ensure()
    url = database_url()
    facts = machine_facts(url)
    print_facts(facts)
    django_setup(url)
    organization_id = int(meta["organization_id"])

    say(f"rollups of {PERIOD[0]} .. {PERIOD[1]}")
    computed, rollup_seconds = rollups_ensure(organization_id)
    load = OtherLoad()
    say(f"summary report x {args.runs}")
    times, rows, files = report_times(organization_id, args.runs)
    report_load = load.cores()
    load = OtherLoad()
    say(f"baseline: {args.baseline_days} days from raw positions")
    per_day, fixes = baseline_seconds_per_day(organization_id, args.baseline_days)
    baseline_load = load.cores()
    baseline_30 = per_day * 30
    p50, p95 = statistics.median(times), percentile(times, 95)
    say(f"report p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms over {rows} vans; "
        f"baseline {baseline_30:.0f} s for 30 days ({per_day:.1f} s a day, {fixes:,} fixes)")  # fmt: skip
    ok = p95 < TARGET_P95_S
    say(f"goal p95 < {TARGET_P95_S:.0f} s: {verdict(ok)}")
    if args.no_docs:
        return
    rollup_line = (
        f"{computed} of the 30 days rolled up by this run in {rollup_seconds:.0f} s "
        f"({rollup_seconds / computed:.1f} s a day)"
        if computed
        else "all 30 days were already rolled up (reused)"
    )
    markdown = "\n".join(
        [
            f"### Summary report, 30 days x 200 vans ({today()})",
            "",
            f"`.venv/bin/python bench/summary_report.py --runs {args.runs} --baseline-days "
            f"{args.baseline_days}` on {DATABASE} ({int(meta['positions']):,} positions, "
            f"{meta['first_day']} .. {meta['last_day']}); period {PERIOD[0]} .. {PERIOD[1]}. "
            f"Machine: {machine_line(facts)}. {rollup_line}.",
            "",
            table(
                [
                    [
                        "summary report from rollups (`report_table_build`)",
                        f"{p50 * 1000:.0f} ms",
                        f"{p95 * 1000:.0f} ms",
                        f"{rows} rows",
                        f"{report_load:.2f} cores",
                    ],
                    [
                        "its PDF / XLSX file",
                        f"{files['pdf'] * 1000:.0f} / {files['xlsx'] * 1000:.0f} ms",
                        "",
                        "",
                        "",
                    ],
                    [
                        f"baseline: raw positions, {args.baseline_days} days measured, x 30",
                        f"{baseline_30:.1f} s",
                        "",
                        f"{fixes:,} fixes read",
                        f"{baseline_load:.2f} cores",
                    ],
                ],
                ["what", "p50", "p95", "size", "other processes' load"],
            ),
            "",
            f"Goal p95 < {TARGET_P95_S:.0f} s: **{verdict(ok)}** "
            f"({baseline_30 / p95:,.0f}x faster than the raw-positions baseline at p95).",
        ]
    )
    write_section("summary_report", markdown)


if __name__ == "__main__":
    main()
