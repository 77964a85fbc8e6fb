"""Live fan-out benchmark: 200 dispatcher screens on /ws/live/, 5,000 vehicles each reporting
every 5 s (single-fix OsmAnd by default, or the JSON batch API), one Daphne process.

Measures, per screen interval, the delay from a fix's 200 acknowledgement (and from its send
time, which is its fix time) to the websocket frame that carries it; the baseline is the
screen's interval (a fix may wait up to one interval by design), target p99 <= interval +
250 ms. Checks that every screen's snapshot holds all 5,000 vehicles, and how many of the
fixes sent each screen saw.

    .venv/bin/python bench/fanout.py                     # 200 screens at 1 s, 60 s of fixes
    .venv/bin/python bench/fanout.py --intervals 1,5     # half the screens at 1 s, half at 5 s
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BENCH_TOKEN,
    HOST,
    Daphne,
    Fleet,
    OtherLoad,
    RawConnection,
    bench_database,
    django_setup,
    identifier,
    machine_facts,
    machine_line,
    migrate,
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

# One vehicle in a frame: its id, then later its fix time (vehicles are json.dumps'ed dicts
# inside a compact wrapper). Cheaper than json.loads for 200 screens x 1,000 vehicles a second.
VEHICLE_RE = re.compile(rb'"id":\s*(\d+),.*?"fix_time":\s*"([^"]+)"')
TYPE_RE = re.compile(rb'^\{"type":\s*"([a-z_]+)"')
SERVER_TIME_RE = re.compile(rb'"server_time":\s*"([^"]+)"')


@dataclass
class ScreenStats:
    number: int
    interval: int
    snapshot_vehicles: int = 0
    snapshot_complete: bool = False
    snapshot_seconds: float = 0.0
    snapshot_bytes: int = 0
    frames: int = 0
    bytes: int = 0
    # vehicle, fix_time, received, the frame's server_time (when the server built it)
    seen: list[tuple[int, bytes, float, bytes]] = field(default_factory=list)
    # Only sampled screens parse their update frames: parsing 200 screens' frames in one client
    # process made the client, not the server, the bottleneck (see docs/benchmarks.md).
    measure: bool = True
    error: str = ""


async def screen(
    port: int, session_key: str, stats: ScreenStats, expected: set[int], stop: asyncio.Event
) -> None:
    from websockets.asyncio.client import connect

    try:
        async with connect(
            f"ws://{HOST}:{port}/ws/live/",
            additional_headers={"Cookie": f"sessionid={session_key}"},
            origin=f"http://{HOST}:{port}",  # type: ignore[arg-type]
            max_size=None,
            compression=None,
            open_timeout=60,
            ping_interval=None,
        ) as ws:
            asked = time.monotonic()
            await ws.send(
                json.dumps({"type": "subscribe", "filters": {}, "interval": stats.interval})
            )
            # The snapshot: a "snapshot" frame, then "snapshot_more" frames (frames stay under
            # Daphne's 1 MiB message limit); complete once it holds every vehicle.
            ids: set[int] = set()
            first = True
            while True:
                raw = await asyncio.wait_for(ws.recv(decode=False), 600)
                kind = TYPE_RE.match(raw)
                frame_type = kind.group(1) if kind else b""
                if first and frame_type != b"snapshot":
                    raise RuntimeError(f"expected a snapshot, got {raw[:100]!r}")
                if frame_type not in (b"snapshot", b"snapshot_more"):
                    break  # an update already: the snapshot is what we have
                first = False
                stats.snapshot_bytes = max(stats.snapshot_bytes, len(raw))
                ids.update(v["id"] for v in json.loads(raw).get("vehicles", []))
                if ids >= expected:
                    break
            stats.snapshot_seconds = time.monotonic() - asked
            stats.snapshot_vehicles = len(ids)
            stats.snapshot_complete = ids == expected
            while not stop.is_set():
                try:
                    message = await asyncio.wait_for(ws.recv(decode=False), 0.5)
                except TimeoutError:
                    continue
                received = time.time()
                stats.frames += 1
                stats.bytes += len(message)
                if not stats.measure:
                    continue
                kind = TYPE_RE.match(message)
                if kind and kind.group(1) == b"update":
                    built = SERVER_TIME_RE.search(message, max(0, len(message) - 80))
                    stamp = built.group(1) if built else b""
                    for vehicle, fix_time in VEHICLE_RE.findall(message):
                        stats.seen.append((int(vehicle), fix_time, received, stamp))
    except Exception as exc:
        stats.error = repr(exc)[:300]


def sender(
    port: int,
    fleet_size: int,
    vehicle_ids: list[int],
    period: float,
    seconds: float,
    via: str,
    out: Any,
) -> None:
    """Runs in a child process: every vehicle reports once per `period`, for `seconds`.
    Sends back [(vehicle id, fix stamp ms, status, ack wall time)]."""
    rate = fleet_size / period
    sent: list[tuple[int, int, int, float]] = []
    stamps: dict[int, int] = {}

    if via == "osmand":

        def make(index: int) -> tuple[str, str, bytes]:
            device = index % fleet_size
            stamp = int(time.time() * 1000)
            stamps[index] = stamp
            lat = 52.30 + (device % 100) * 0.002 + ((index // fleet_size) % 100) * 0.00001
            lon = 4.80 + (device // 100) * 0.002
            return (
                "GET",
                f"/ingest/osmand/?id={identifier(device)}&lat={lat:.6f}&lon={lon:.6f}"
                f"&timestamp={stamp}&speed=15&batt=80",
                b"",
            )

        def done(index: int, status: int, _: float) -> None:
            sent.append((vehicle_ids[index % fleet_size], stamps.pop(index), status, time.time()))

        result = asyncio.run(
            paced_requests(port, rate=rate, seconds=seconds, make_request=make, on_response=done)
        )
        errors = result.errors
    else:
        per_batch = max(1, int(rate / 10))  # ten requests a second
        batches: dict[int, list[tuple[int, int]]] = {}

        def make(index: int) -> tuple[str, str, bytes]:
            stamp = int(time.time() * 1000)
            fixes, keys = [], []
            for j in range(per_batch):
                k = index * per_batch + j
                device = k % fleet_size
                lat = 52.30 + (device % 100) * 0.002 + ((k // fleet_size) % 100) * 0.00001
                lon = 4.80 + (device // 100) * 0.002
                fixes.append(
                    {
                        "device_id": identifier(device),
                        "lat": round(lat, 6),
                        "lon": round(lon, 6),
                        "timestamp": stamp,
                        "speed_kmh": 28,
                    }
                )
                keys.append((vehicle_ids[device], stamp))
            batches[index] = keys
            return ("POST", "/api/v1/positions/batch/", json.dumps({"fixes": fixes}).encode())

        def done(index: int, status: int, _: float) -> None:
            now = time.time()
            for vehicle, stamp in batches.pop(index):
                sent.append((vehicle, stamp, status, now))

        async def go() -> Any:
            return await paced_requests(
                port, rate=10, seconds=seconds, make_request=make, on_response=done
            )

        # paced_requests sends no headers of its own: give the batch requests theirs.
        original = RawConnection.request

        async def with_auth(
            self: RawConnection,
            method: str,
            path: str,
            body: bytes = b"",
            headers: dict[str, str] | None = None,
        ) -> tuple[int, bytes]:
            return await original(
                self,
                method,
                path,
                body,
                {
                    "Authorization": f"Bearer {BENCH_TOKEN}",
                    "Content-Type": "application/json",
                },
            )

        RawConnection.request = with_auth  # type: ignore[method-assign]
        errors = asyncio.run(go()).errors
    out.put((sent, errors))


async def one_snapshot(port: int, fleet: Fleet) -> str:
    """Does one screen get its snapshot? ('ok: N vehicles, B bytes' or what went wrong)."""
    stats = ScreenStats(number=0, interval=5)
    stop = asyncio.Event()
    stop.set()  # return right after the snapshot
    await screen(port, fleet.session_keys[0], stats, set(fleet.vehicle_ids), stop)
    if stats.error:
        return f"FAIL: {stats.error}"
    if not stats.snapshot_complete:
        return f"FAIL: snapshot of {stats.snapshot_vehicles} vehicles only"
    return (
        f"ok: snapshot of {stats.snapshot_vehicles} vehicles, largest frame "
        f"{stats.snapshot_bytes:,} bytes"
    )


async def idle_screen(port: int, fleet: Fleet, seconds: float = 30) -> str:
    """Does a screen that gets no update for a while stay connected?"""
    from websockets.asyncio.client import connect

    try:
        async with connect(
            f"ws://{HOST}:{port}/ws/live/",
            additional_headers={"Cookie": f"sessionid={fleet.session_keys[0]}"},
            origin=f"http://{HOST}:{port}",  # type: ignore[arg-type]
            max_size=None,
        ) as ws:
            await ws.send(
                json.dumps({"type": "subscribe", "filters": {"q": "BN-00001"}, "interval": 1})
            )
            await ws.recv()
            started = time.monotonic()
            try:
                async with asyncio.timeout(seconds):
                    async for _ in ws:
                        pass
            except TimeoutError:
                return f"ok: still connected after {seconds:g} s without updates"
            return f"FAIL: closed ({ws.close_code}) after {time.monotonic() - started:.1f} s idle"
    except Exception as exc:
        return f"FAIL: {exc!r}"[:200]


def prime(port: int, fleet: Fleet) -> None:
    """One fix for every vehicle, so snapshots carry positions."""

    async def go() -> None:
        conn = await RawConnection.open(port)
        now = int(time.time() * 1000) - 10_000
        try:
            for start in range(0, len(fleet.identifiers), 1000):
                fixes = [
                    {
                        "device_id": fleet.identifiers[i],
                        "lat": fleet.position(i, 0)[0],
                        "lon": fleet.position(i, 0)[1],
                        "timestamp": now,
                        "speed_kmh": 0,
                    }
                    for i in range(start, min(start + 1000, len(fleet.identifiers)))
                ]
                status, _ = await conn.request(
                    "POST",
                    "/api/v1/positions/batch/",
                    json.dumps({"fixes": fixes}).encode(),
                    {"Authorization": f"Bearer {BENCH_TOKEN}", "Content-Type": "application/json"},
                )
                assert status == 200, status
        finally:
            conn.close()

    asyncio.run(go())


async def run_screens(
    port: int,
    fleet: Fleet,
    intervals: list[int],
    seconds: float,
    period: float,
    via: str,
    connect_batch: int,
    measured: int,
) -> dict[str, Any]:
    expected = set(fleet.vehicle_ids)
    stop = asyncio.Event()
    every = max(1, len(fleet.session_keys) // max(1, measured))
    stats = [
        ScreenStats(
            number=n,
            interval=intervals[n % len(intervals)],
            measure=(n // len(intervals)) % every == 0,
        )
        for n in range(len(fleet.session_keys))
    ]
    tasks = []
    t0 = time.monotonic()
    for n, key in enumerate(fleet.session_keys):
        tasks.append(asyncio.create_task(screen(port, key, stats[n], expected, stop)))
        if (n + 1) % connect_batch == 0:
            await asyncio.sleep(0.2)
    # Wait until every screen has its snapshot (or failed).
    while any(s.snapshot_seconds == 0 and not s.error for s in stats):
        await asyncio.sleep(0.2)
        if time.monotonic() - t0 > 900:
            break
    connect_seconds = time.monotonic() - t0
    say(
        f"  {len(stats)} screens subscribed in {connect_seconds:.1f} s; snapshot p50 "
        f"{percentile([s.snapshot_seconds for s in stats], 50):.2f} s, max "
        f"{max(s.snapshot_seconds for s in stats):.2f} s"
    )
    for s in stats:  # measure updates from here on only
        s.seen.clear()
        s.frames = s.bytes = 0

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited loop
    queue: Any = context.Queue()
    proc = context.Process(
        target=sender,
        args=(port, len(fleet.identifiers), fleet.vehicle_ids, period, seconds, via, queue),
    )
    import psutil

    me = psutil.Process()
    cpu0 = sum(me.cpu_times()[:2])
    started = time.monotonic()
    proc.start()
    sent, errors = await asyncio.to_thread(queue.get, True, seconds + 120)
    await asyncio.to_thread(proc.join, 30)
    await asyncio.sleep(max(intervals) + 2.0)  # the last fixes' frames
    elapsed = time.monotonic() - started
    client_cpu = (sum(me.cpu_times()[:2]) - cpu0) / elapsed
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "stats": stats,
        "sent": sent,
        "errors": errors,
        "connect_seconds": connect_seconds,
        "client_cpu": client_cpu,
        "elapsed": elapsed,
    }


def analyse(result: dict[str, Any], intervals: list[int]) -> dict[int, dict[str, Any]]:
    sent = result["sent"]
    acked = {(vehicle, stamp): ack for vehicle, stamp, status, ack in sent if status == 200}
    stamp_cache: dict[bytes, int] = {}

    def stamp_of(text: bytes) -> int:
        value = stamp_cache.get(text)
        if value is None:
            value = round(dt.datetime.fromisoformat(text.decode()).timestamp() * 1000)
            stamp_cache[text] = value
        return value

    built_cache: dict[bytes, float] = {}

    def built_at(text: bytes) -> float | None:
        if not text:
            return None
        value = built_cache.get(text)
        if value is None:
            value = built_cache[text] = dt.datetime.fromisoformat(text.decode()).timestamp()
        return value

    out: dict[int, dict[str, Any]] = {}
    for interval in intervals:
        screens = [s for s in result["stats"] if s.interval == interval]
        measured = [s for s in screens if s.measure]
        from_ack, from_send, built_from_ack, coverage = [], [], [], []
        for s in measured:
            delivered = set()
            for vehicle, fix_time, received, server_time in s.seen:
                stamp = stamp_of(fix_time)
                ack = acked.get((vehicle, stamp))
                if ack is None:
                    continue  # a fix from before the measurement
                delivered.add((vehicle, stamp))
                from_ack.append(received - ack)
                from_send.append(received - stamp / 1000)
                built = built_at(server_time)
                if built is not None:
                    built_from_ack.append(built - ack)
            coverage.append(len(delivered) / max(1, len(acked)))
        frames_per_screen = [s.frames for s in screens if not s.error]
        out[interval] = {
            "screens": len(screens),
            "measured": len(measured),
            "p50_ack": percentile(from_ack, 50) * 1000,
            "p99_ack": percentile(from_ack, 99) * 1000,
            "max_ack": percentile(from_ack, 100) * 1000,
            "p99_send": percentile(from_send, 99) * 1000,
            "p50_built": percentile(built_from_ack, 50) * 1000,
            "p99_built": percentile(built_from_ack, 99) * 1000,
            "min_coverage": min(coverage) if coverage else 0.0,
            "mean_coverage": sum(coverage) / max(1, len(coverage)),
            "min_frames": min(frames_per_screen) if frames_per_screen else 0,
            "samples": len(from_ack),
            "snapshots_complete": sum(1 for s in screens if s.snapshot_complete),
            "snapshot_p99": percentile([s.snapshot_seconds for s in screens], 99),
            "errors": [s.error for s in screens if s.error],
            "frames": sum(s.frames for s in screens),
            "mbytes": sum(s.bytes for s in screens) / 1e6,
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vehicles", type=int, default=5000)
    parser.add_argument("--screens", type=int, default=200)
    parser.add_argument("--intervals", default="1", help="screen intervals, e.g. 1 or 1,5")
    parser.add_argument(
        "--period", type=float, default=5.0, help="seconds between a vehicle's fixes"
    )
    parser.add_argument("--seconds", type=float, default=60, help="seconds of fixes")
    parser.add_argument("--via", choices=("osmand", "batch"), default="osmand")
    parser.add_argument("--connect-batch", type=int, default=20, help="screens connecting at once")
    parser.add_argument(
        "--measured-screens",
        type=int,
        default=20,
        help="screens (spread over the connection order) whose frames are parsed for latency",
    )
    parser.add_argument(
        "--ws-max-message-size",
        type=int,
        default=0,
        help="daphne --websocket-max-message-size for the run (0: Daphne's default, as deployed)",
    )
    parser.add_argument("--max-wait", type=float, default=600)
    parser.add_argument(
        "--processes", type=int, default=1, help="Daphne processes sharing the port"
    )
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    stop_cleanly_on_sigterm()
    intervals = [int(x) for x in args.intervals.split(",")]

    with bench_database(keep=args.keep_db) as db_url:
        facts = machine_facts(db_url)
        print_facts(facts)
        migrate(db_url)
        django_setup(db_url)
        fleet = seed_fleet(args.vehicles, screens=args.screens)
        with tempfile.TemporaryDirectory(prefix="doorstep-bench-") as tmp:
            with Daphne(db_url, Path(tmp) / "daphne-default.log") as server:
                prime(server.port, fleet)
                settled_counts(db_url)
                preflight = asyncio.run(one_snapshot(server.port, fleet))
                idle = asyncio.run(idle_screen(server.port, fleet))
                say(
                    f"\npreflight, Daphne and channel layer as deployed: full snapshot: "
                    f"{preflight}; a quiet screen (filter matching one vehicle): {idle}"
                )
            extra = []
            if args.ws_max_message_size:
                extra = ["--websocket-max-message-size", str(args.ws_max_message_size)]
                say(f"the run below: daphne {' '.join(extra)}")
            with Daphne(
                db_url, Path(tmp) / "daphne.log", extra=extra, processes=args.processes
            ) as server:
                say(
                    f"\nfan-out: {args.screens} screens (intervals {intervals} s), "
                    f"{args.vehicles} vehicles every {args.period:g} s via {args.via} "
                    f"({args.vehicles / args.period:.0f} fixes/s) for {args.seconds:g} s"
                )
                wait_for_quiet(args.max_wait)
                others = OtherLoad(server.pids())
                c0 = server.cpu_seconds()
                result = asyncio.run(
                    run_screens(
                        server.port,
                        fleet,
                        intervals,
                        args.seconds,
                        args.period,
                        args.via,
                        args.connect_batch,
                        args.measured_screens,
                    )
                )
                daphne_cpu = (server.cpu_seconds() - c0) / (
                    result["elapsed"] + result["connect_seconds"]
                )
                other_cores = others.cores()
                log = server.log_tail(200_000)
    statuses: dict[int, int] = {}
    for _, _, status, _ in result["sent"]:
        statuses[status] = statuses.get(status, 0) + 1
    figures = analyse(result, intervals)
    say(
        f"  fixes sent {len(result['sent'])}, statuses {statuses}, errors {result['errors']}; "
        f"Daphne CPU {daphne_cpu:.0%}, screen clients CPU {result['client_cpu']:.0%}, "
        f"other processes {other_cores:.2f} cores"
    )
    rows = []
    for interval, f in figures.items():
        target = interval * 1000 + 250
        say(
            f"  interval {interval} s ({f['screens']} screens): fix ack -> frame p50 "
            f"{f['p50_ack']:.0f} ms, p99 {f['p99_ack']:.0f} ms, max {f['max_ack']:.0f} ms "
            f"(from send p99 {f['p99_send']:.0f} ms; fix ack -> frame built by the server p50 "
            f"{f['p50_built']:.0f} ms, p99 {f['p99_built']:.0f} ms; {f['measured']} screens "
            f"measured); target p99 <= {target} ms: {verdict(f['p99_ack'] <= target)}"
        )
        say(
            f"    snapshots with all {args.vehicles} vehicles: {f['snapshots_complete']}/"
            f"{f['screens']} (snapshot p99 {f['snapshot_p99']:.2f} s after subscribe); fixes seen "
            f"per screen: min {f['min_coverage']:.1%}, mean {f['mean_coverage']:.1%}; "
            f"{f['frames']} frames, {f['mbytes']:.0f} MB; fewest frames on a screen "
            f"{f['min_frames']}"
        )
        if f["errors"]:
            say(f"    screen errors: {f['errors'][:3]}")
        rows.append(
            [
                f"fix ack -> frame built by the server, p99 ({interval} s screens)",
                f"{f['p99_built']:,.0f} ms (p50 {f['p50_built']:,.0f})",
                f"interval {interval * 1000:,} ms",
                f"{f['p99_built'] / (interval * 1000):.2f}x",
                "",
                "",
            ]
        )
        rows.append(
            [
                f"fix ack -> frame received p99, {f['screens']} screens at {interval} s "
                f"(measured on {f['measured']})",
                f"{f['p99_ack']:,.0f} ms (p50 {f['p50_ack']:,.0f}, max {f['max_ack']:,.0f})",
                f"interval {interval * 1000:,} ms",
                f"{f['p99_ack'] / (interval * 1000):.2f}x",
                f"<= {target:,} ms",
                verdict(f["p99_ack"] <= target),
            ]
        )
        rows.append(
            [
                f"snapshots holding all {args.vehicles:,} vehicles ({interval} s screens)",
                f"{f['snapshots_complete']}/{f['screens']}",
                f"{f['screens']} screens",
                "",
                "all",
                verdict(f["snapshots_complete"] == f["screens"]),
            ]
        )
        rows.append(
            [
                f"fixes seen per measured screen ({interval} s screens)",
                f"min {f['min_coverage']:.1%}, mean {f['mean_coverage']:.1%}",
                "fixes acknowledged",
                "",
                "100% at 1 s (coalescing may drop superseded fixes at longer intervals)",
                verdict(f["min_coverage"] >= 0.999 or interval > args.period / 2),
            ]
        )
    rows[:0] = [
        [
            "as deployed: snapshot of all vehicles (Daphne's 1 MiB websocket message limit)",
            preflight[:120],
            f"{args.vehicles:,} vehicles",
            "",
            "a snapshot",
            verdict(preflight.startswith("ok")),
        ],
        [
            "as deployed: a screen with no update for 30 s stays connected",
            idle[:120],
            "",
            "",
            "connected",
            verdict(idle.startswith("ok")),
        ],
    ]
    sizes = [s.snapshot_bytes for s in result["stats"] if s.snapshot_bytes]
    if sizes:
        say(f"  largest snapshot frame {max(sizes):,} bytes")
    flush_failures = [line for line in log.splitlines() if "flush failed" in line]
    if flush_failures:
        say(f"  ingest flush failures (503s): {flush_failures[:3]}")
    if "Traceback" in log:
        say("Daphne logged errors, its log ends:\n" + log[-3000:])
    markdown = "\n".join(
        [
            f"## Live fan-out (`bench/fanout.py --intervals {args.intervals} --via {args.via}`)",
            "",
            f"Date {today()}; machine: {machine_line(facts)}. "
            f"{'One Daphne process' if args.processes == 1 else f'{args.processes} Daphne processes'}; "
            f"{args.screens} "
            f"screens (session-authenticated websockets), {args.vehicles:,} vehicles each reporting "
            f"every {args.period:g} s via {args.via} ({args.vehicles / args.period:,.0f} fixes/s) for "
            f"{args.seconds:g} s. Latency: from the fix's 200 to the frame carrying it, and to the "
            f"moment the server built that frame (its server_time). Every screen receives every "
            f"frame; {args.measured_screens} screens spread over the connection order parse theirs "
            f"(one client process parsing 200 screens' frames was slower than the server).",
            "",
            table(rows, ["figure", "measured", "baseline", "ratio", "target", "result"]),
            "",
            f"All {args.screens} screens subscribed in {result['connect_seconds']:.1f} s. "
            f"Daphne CPU {daphne_cpu:.0%} of one core; screen clients {result['client_cpu']:.0%}; "
            f"other processes on the machine {other_cores:.2f} cores.",
        ]
    )
    say("\n" + markdown)
    if not args.no_docs:
        write_section(f"fanout-{args.intervals.replace(',', '-')}-{args.via}", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
