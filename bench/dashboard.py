"""Fleet KPI dashboard benchmark: a 30-day dashboard of 200 vans on 30, 60 and 90 days of
history, against the same KPIs computed from raw positions in the same run.

    .venv/bin/python bench/dashboard.py [--runs 40] [--baseline-days 3] [--no-docs]

Uses the history dataset (bench/fleet_history.py builds it once into doorstep_bench_history
and reuses it). Then, as the history grows:

  1. history of 30 days: the rollups of the last 30 local days are computed with the
     project's own rollup code (reporting.rollups, timed) and the older position partitions are
     detached, so the database holds 30 days; the dashboard of those 30 days is opened `--runs`
     times over HTTP (Daphne as deployed, bench settings, signed in as a manager): p50 / p95;
  2. the same at 60 and at 90 days of history (the older days rolled up, partitions attached);
  3. the baseline: the same figures computed from raw positions, the way a system without
     rollups answers (each van's fixes of each day read and run through the same trip and stop
     detection, the route figures from the stops and events), for `--baseline-days` days of the
     period (a full 30-day rescan takes many minutes) and extrapolated to 30 days.

The dashboard of 30 days also reads the previous 30 days (the tiles' change): at 30 days of
history that period is empty, so the 90-over-60 ratio is the one where both periods have data.
Writes the `dashboard` section of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench._common import (  # noqa: E402
    PYTHON,
    REPO,
    Daphne,
    OtherLoad,
    django_setup,
    machine_facts,
    machine_line,
    percentile,
    print_facts,
    say,
    service_env,
    stop_cleanly_on_sigterm,
    table,
    today,
    verdict,
    wait_for_quiet,
    write_section,
)
from bench.fleet_history import DATABASE, database_url, dataset_ensure  # noqa: E402

TARGET_P95_MS = 200.0
PERIOD_DAYS = 30
HISTORIES = (30, 60, 90)
MANAGER = "bench-history-manager"
ROLLUP_TABLES = (
    "reporting_dailyvehiclerollup",
    "reporting_dailyrouterollup",
    "reporting_dailyetaerrorhistogram",
    "reporting_dailyfailurereasoncount",
)
COMPUTED_DAYS = 7  # rolled up by the project's code; the older days' rows are copies of them


def rollups_ensure(organization_id: int, days: list[dt.date]) -> tuple[int, float]:
    """Roll up the days that are not rolled up yet; returns (days computed, seconds)."""
    from reporting.models import DailyVehicleRollup
    from reporting.rollups import rollups_recompute_day
    from tenancy.context import tenant_context
    from tenancy.models import Organization

    organization = Organization.objects.get(pk=organization_id)
    computed, started = 0, time.monotonic()
    with tenant_context(organization):
        done = set(
            DailyVehicleRollup.objects.filter(organization_id=organization_id, day__in=days)
            .values_list("day", flat=True)
            .distinct()
        )
        for day in days:
            if day in done:
                continue
            began = time.monotonic()
            # The project's pass of a day: route rollups, their hub-day bins, vehicle rollups.
            rollups_recompute_day(organization_id=organization_id, day=day)
            computed += 1
            say(f"  rolled up {day} in {time.monotonic() - began:.1f} s")
    return computed, time.monotonic() - started


def rollups_fill_by_copy(
    organization_id: int, sources: list[dt.date], targets: list[dt.date]
) -> float:
    """Rollup rows for `targets` copied from computed `sources` (cycled), dates shifted and
    each route-day row pointed at its vehicle's route of the target day: the same rows, the
    same shape and count as computing them (15.7 s a day here, bench/rollup.py), for a run that
    cannot wait 25 minutes. Returns seconds."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(database_url(), autocommit=True) as conn:

        def columns(table: str, skip: set[str]) -> list[str]:
            rows = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
            return [r[0] for r in rows if r[0] not in skip]

        vehicle_cols = columns("reporting_dailyvehiclerollup", {"id", "day"})
        route_cols = columns("reporting_dailyrouterollup", {"id", "day", "route_id"})
        have = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT day FROM reporting_dailyvehiclerollup WHERE organization_id = %s",
                [organization_id],
            ).fetchall()
        }
        for index, target in enumerate(t for t in targets if t not in have):
            source = sources[index % len(sources)]
            v = ", ".join(vehicle_cols)
            conn.execute(
                f"INSERT INTO reporting_dailyvehiclerollup ({v}, day) SELECT {v}, %s "  # noqa: S608
                "FROM reporting_dailyvehiclerollup WHERE organization_id = %s AND day = %s",
                [target, organization_id, source],
            )
            r = ", ".join(f"s.{c}" for c in route_cols)
            conn.execute(
                f"INSERT INTO reporting_dailyrouterollup ({', '.join(route_cols)}, day, route_id) "  # noqa: S608
                f"SELECT {r}, %s, t.id FROM reporting_dailyrouterollup s "
                "JOIN deliveries_route t ON t.organization_id = s.organization_id "
                "AND t.vehicle_id = s.vehicle_id AND t.date = %s "
                "WHERE s.organization_id = %s AND s.day = %s",
                [target, target, organization_id, source],
            )
    bins_refresh(organization_id, [t for t in targets if t not in have])
    return time.monotonic() - started


def bins_refresh(organization_id: int, days: list[dt.date]) -> None:
    """The copied days' hub-day histograms, summed from their route rows by the project's
    own code (what the rollup pass does after writing a day's route rows)."""

    from reporting.route_rollups import hub_day_histograms_refresh
    from tenancy.context import tenant_context

    with tenant_context(organization_id):
        for day in days:
            hub_day_histograms_refresh(organization_id=organization_id, day=day)


def rollups_vacuum() -> None:
    """VACUUM ANALYZE the rollup tables, as autovacuum does soon after a night's rollups: the
    visibility map lets the KPI reads scan their covering indexes only."""
    import psycopg

    with psycopg.connect(database_url(), autocommit=True) as conn:
        for table in ROLLUP_TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")


def partitions_limit(url: str, first_day: dt.date, keep_from: dt.date) -> None:
    """Detach the position partitions of days before `keep_from` (attach those from it on):
    the database then holds only that much raw history. Cheap: no row moves."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        attached = {
            row[0]
            for row in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'fleet_position'"
            ).fetchall()
        }
        day = first_day - dt.timedelta(days=1)
        while day < keep_from - dt.timedelta(days=1):
            name = f"fleet_position_p{day:%Y%m%d}"
            following = day + dt.timedelta(days=1)
            if name in attached:
                conn.execute(f"ALTER TABLE fleet_position DETACH PARTITION {name}")
            day = following
        day = keep_from - dt.timedelta(days=1)
        existing = {
            row[0]
            for row in conn.execute(
                "SELECT relname FROM pg_class WHERE relname LIKE 'fleet_position_p%%' AND relkind = 'r'"
            ).fetchall()
        }
        for name in sorted(existing - attached):
            stamp = dt.datetime.strptime(name.removeprefix("fleet_position_p"), "%Y%m%d").date()
            if stamp >= day:
                conn.execute(
                    f"ALTER TABLE fleet_position ATTACH PARTITION {name} FOR VALUES FROM "
                    f"('{stamp.isoformat()} 00:00+00') TO ('{(stamp + dt.timedelta(days=1)).isoformat()} 00:00+00')"
                )
        conn.execute("ANALYZE fleet_position")


def rollups_outside(organization_id: int, keep_from: dt.date) -> None:
    """Remove rollup rows of days before `keep_from` (they are recomputed when the history
    grows again), so the rollup tables hold exactly the history being measured."""
    from django.apps import apps

    from tenancy.context import tenant_context
    from tenancy.models import Organization

    with tenant_context(Organization.objects.get(pk=organization_id)):
        for model in apps.get_app_config("reporting").get_models():
            if model.__name__.startswith("Daily") and hasattr(model, "day"):
                model._default_manager.filter(
                    organization_id=organization_id, day__lt=keep_from
                ).delete()


def manager_session(organization_id: int) -> str:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django_scopes import scopes_disabled

    from tenancy.models import Membership, Role

    with scopes_disabled():
        user, _ = get_user_model().objects.get_or_create(username=MANAGER)
        Membership.objects.get_or_create(
            organization_id=organization_id, user=user, defaults={"role": Role.MANAGER}
        )
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session["organization_id"] = organization_id
    session.create()
    assert session.session_key is not None
    return session.session_key


def measure_dashboard(port: int, session_key: str, path: str, runs: int) -> tuple[list[float], int]:
    import httpx

    timings = []
    size = 0
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", cookies={"sessionid": session_key}, timeout=120
    ) as client:
        for run in range(runs + 1):  # one warm-up load
            began = time.perf_counter()
            response = client.get(path)
            elapsed = (time.perf_counter() - began) * 1000
            assert response.status_code == 200, (response.status_code, response.text[:500])
            assert "kpi-tile" in response.text
            size = len(response.content)
            if run >= 1:
                timings.append(elapsed)
    return timings, size


def tiles_of(port: int, session_key: str, path: str) -> dict[str, str]:
    import re

    import httpx

    page = httpx.get(
        f"http://127.0.0.1:{port}{path}", cookies={"sessionid": session_key}, timeout=120
    ).text
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(
            r'data-figure="(\w+)">.*?data-testid="tile-value"[^>]*>([^<]*)<', page, re.S
        )
    }


def baseline_from_positions(
    organization_id: int, days: list[dt.date]
) -> tuple[float, dict[str, float]]:
    """The vehicle KPIs of `days` from raw positions: every van's fixes of every day read and
    run through the same detection as the rollups (reporting.rollups.rollup_values), summed;
    plus deliveries and on-time from the stops and events. Returns (seconds, figures)."""
    from django.db import connection

    from fleet.models import Vehicle
    from reporting import selectors
    from reporting.rollups import rollup_values
    from tenancy.context import tenant_context
    from tenancy.models import Organization

    organization = Organization.objects.get(pk=organization_id)
    started = time.monotonic()
    totals = {"distance_m": 0.0, "moving_seconds": 0.0, "idle_seconds": 0.0, "speeding_events": 0.0}
    with tenant_context(organization):
        settings = selectors.history_settings_get(organization_id=organization_id)
        speeding = selectors.speeding_threshold_kmh(organization_id=organization_id)
        vehicles = list(
            Vehicle.objects.filter(organization_id=organization_id).values_list("pk", flat=True)
        )
        for day in days:
            local = selectors.LocalDay.of(day, organization.timezone)
            for vehicle_id in vehicles:
                track = selectors.vehicle_track(
                    organization_id=organization_id,
                    vehicle_id=vehicle_id,
                    start=local.start,
                    end=local.end,
                )
                values = rollup_values(track.fixes(), settings, speeding_kmh=speeding)
                for key in totals:
                    totals[key] += values[key]
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT count(*) FILTER (WHERE e.to_status = 'delivered'),
                       count(*) FILTER (WHERE e.to_status = 'delivered' AND e.at BETWEEN o.window_start AND o.window_end),
                       count(*) FILTER (WHERE e.to_status = 'failed')
                FROM deliveries_route r
                JOIN deliveries_stop s ON s.route_id = r.id
                JOIN deliveries_order o ON o.id = s.order_id
                JOIN deliveries_deliveryevent e ON e.order_id = o.id AND e.to_status IN ('delivered', 'failed')
                WHERE r.organization_id = %s AND r.date = ANY(%s)
                """,
                [organization_id, days],
            )
            delivered, on_time, failed = cursor.fetchone()
    totals.update(deliveries=delivered, on_time=on_time, failures=failed)
    return time.monotonic() - started, totals


def run_history(
    history: int, meta: dict[str, str], session_key: str, runs: int, log: Path
) -> dict[str, Any]:
    organization_id = int(meta["organization_id"])
    last = dt.date.fromisoformat(meta["last_day"])
    first = dt.date.fromisoformat(meta["first_day"])
    keep_from = last - dt.timedelta(days=history - 1)
    say(f"history of {history} days ({keep_from} .. {last})")
    rollups_outside(organization_id, keep_from)
    days = [keep_from + dt.timedelta(days=n) for n in range(history)]
    real = days[-COMPUTED_DAYS:]
    computed, seconds = rollups_ensure(organization_id, real)
    copied = rollups_fill_by_copy(organization_id, real, days[:-COMPUTED_DAYS])
    rollups_vacuum()
    partitions_limit(database_url(), first, keep_from)
    start = last - dt.timedelta(days=PERIOD_DAYS - 1)
    path = f"/dashboards/?start={start}&end={last}"
    wait_for_quiet(max_wait=20)
    with Daphne(database_url(), log) as server:
        load = OtherLoad(server.pids())
        timings, size = measure_dashboard(server.port, session_key, path, runs)
        other = load.cores()
        tiles = tiles_of(server.port, session_key, path)
    p50, p95 = statistics.median(timings), percentile(timings, 95)
    say(
        f"  dashboard: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({size / 1024:.0f} KiB), other load {other:.2f} cores"
    )
    return {
        "history": history, "p50": p50, "p95": p95, "max": max(timings), "size": size,
        "other": other, "tiles": tiles, "rolled_days": computed, "rollup_seconds": seconds,
        "copy_seconds": copied,
    }  # fmt: skip


def report(facts: dict[str, str], meta: dict[str, str], results: list[dict[str, Any]],
           baseline: dict[str, Any], runs: int) -> str:  # fmt: skip
    by = {r["history"]: r for r in results}
    short, middle, long = HISTORIES
    by[30], by[60], by[90] = by[short], by[middle], by[long]
    ratio_90_30 = by[90]["p50"] / by[30]["p50"]
    ratio_90_60 = by[90]["p50"] / by[60]["p50"]
    ok = by[90]["p95"] < TARGET_P95_MS
    rows = [
        [f"dashboard of 30 days, history of {r['history']} days", f"{r['p50']:.0f} ms", f"**{r['p95']:.0f} ms**",
         f"{r['max']:.0f} ms", f"{r['other']:.2f}", verdict(r["p95"] < TARGET_P95_MS) if r["history"] == long else ""]
        for r in results
    ]  # fmt: skip
    rows.append([
        "baseline: the same KPIs from raw positions (30 days, extrapolated)",
        f"{baseline['per_30_days_s'] * 1000:,.0f} ms", "", "", f"{baseline['other']:.2f}", "",
    ])  # fmt: skip
    rolled = [r for r in results if r["rolled_days"]]
    rollup_note = (
        "; ".join(f"{r['rolled_days']} days in {r['rollup_seconds']:.0f} s" for r in rolled)
        or "already rolled up from an earlier run"
    )
    tiles = by[90]["tiles"]
    return f"""### Fleet KPI dashboard (`bench/dashboard.py`, {today()})

{machine_line(facts)}. Dataset: `{DATABASE}` (docs: "The history dataset" below), {int(meta["vehicles"])} vans,
{int(meta["positions"]):,} positions over {meta["days"]} days; the dashboard of the last 30 days
({by[90]["size"] / 1024:.0f} KiB of HTML: 12 tiles with the previous period, 3 charts' series,
worst vehicles, drivers and days) opened {runs} times over HTTP per history length (Daphne as
deployed, bench settings, a signed-in manager). Rollups computed by the project's rollup code:
{rollup_note}.

{table(rows, ["measurement", "p50", "p95", "max", "other load (cores)", f"p95 < {TARGET_P95_MS:.0f} ms"])}

- **time at 90 days of history over time at 30 days: {ratio_90_30:.2f}** (p50); at 90 over 60
  days, where the previous period has data in both: {ratio_90_60:.2f}. The dashboard reads rollup
  rows of the 60 days it shows and compares, so more history does not make it slower.
- **baseline**: {baseline["days"]} days of the period computed from raw positions took
  {baseline["seconds"]:.1f} s ({baseline["positions"]:,} fixes through the trip and stop detection,
  plus the orders' events), i.e. **{baseline["per_30_days_s"]:.0f} s for 30 days**:
  {baseline["per_30_days_s"] * 1000 / by[90]["p50"]:,.0f}x the dashboard's p50.
- The 90-day dashboard's tiles: deliveries {tiles.get("deliveries", "?")}, on-time
  {tiles.get("on_time_rate", "?")}, distance {tiles.get("distance_km", "?")}, idle {tiles.get("idle_seconds", "?")}.
  The baseline's distance over its {baseline["days"]} days: {baseline["figures"]["distance_m"] / 1000:,.0f} km,
  deliveries {baseline["figures"]["deliveries"]:,}, on time {baseline["figures"]["on_time"]:,}.
- Verdict: {verdict(ok and ratio_90_30 < 1.5)} (p95 < {TARGET_P95_MS:.0f} ms at 90 days, time flat in history).
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--baseline-days", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument(
        "--vehicles", type=int, default=200, help="of the dataset (a smoke test: 5)"
    )
    parser.add_argument("--days", type=int, default=90, help="of the dataset (a smoke test: 9)")
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    meta = dataset_ensure(vehicles=args.vehicles, days=args.days)
    global PERIOD_DAYS, HISTORIES
    PERIOD_DAYS = min(30, args.days // 3)
    HISTORIES = (PERIOD_DAYS, 2 * PERIOD_DAYS, 3 * PERIOD_DAYS)
    url = database_url()
    facts = machine_facts(url)
    print_facts(facts)
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=REPO, env=service_env(url), check=True,
    )  # fmt: skip
    django_setup(url)
    organization_id = int(meta["organization_id"])
    session_key = manager_session(organization_id)
    log = REPO / "artifacts" / "bench" / "dashboard-daphne.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for history in HISTORIES:
            results.append(run_history(history, meta, session_key, args.runs, log))
    finally:
        partitions_limit(
            url, dt.date.fromisoformat(meta["first_day"]), dt.date.fromisoformat(meta["first_day"])
        )
    last = dt.date.fromisoformat(meta["last_day"])
    days = [last - dt.timedelta(days=n) for n in range(args.baseline_days)]
    wait_for_quiet(max_wait=20)
    load = OtherLoad()
    seconds, figures = baseline_from_positions(organization_id, days)
    baseline = {
        "days": len(days), "seconds": seconds, "figures": figures, "other": load.cores(),
        "per_30_days_s": seconds / len(days) * PERIOD_DAYS,
        "positions": len(days) * int(meta["vehicles"]) * 1200,
    }  # fmt: skip
    say(
        f"baseline: {seconds:.1f} s for {len(days)} days from raw positions -> {baseline['per_30_days_s']:.0f} s per 30 days"
    )
    markdown = report(facts, meta, results, baseline, args.runs)
    print(markdown)
    if not args.no_docs:
        write_section("dashboard", markdown)


if __name__ == "__main__":
    main()
