"""manage.py simulate_fleet: drive the demo devices around their hubs and send every fix through the
real OsmAnd endpoint, as real trackers would.

    manage.py simulate_fleet --url http://127.0.0.1:8000
    manage.py simulate_fleet --organization northwind --vehicles 10 --anomalies all
    manage.py simulate_fleet --create-devices 500 --organization northwind --speedup 5
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, transaction

from demo.orders import route_goals_load
from demo.scenario import DemoScenario, scenario_vehicles_build
from demo.simulator.driver import ANOMALY_KINDS, Anomalies, Fleet, SimDevice
from demo.simulator.runner import FleetSender, SendStats, SimClock
from demo.tenants import DEMO_DEVICE_TOKEN, DEMO_ORGANIZATIONS
from fleet.models import Device, Hub, Vehicle
from tenancy.context import operator_context, tenant_context
from tenancy.models import Organization

ROUTE_POLL_S = 5.0


class Command(BaseCommand):
    help = (
        "Simulate delivery vehicles on a synthetic street network around their hubs and send "
        "their GPS fixes to the OsmAnd ingest endpoint ({url}/ingest/osmand/), one request per fix."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Server base URL.")
        parser.add_argument(
            "--organization",
            action="append",
            dest="organizations",
            metavar="SLUG",
            default=[],
            help="Only this organization's devices (repeatable). Default: all organizations.",
        )
        parser.add_argument(
            "--vehicles",
            type=int,
            metavar="N",
            help="Simulate at most N devices, shared round-robin among the organizations. "
            "Default: every active device that has a vehicle.",
        )
        parser.add_argument(
            "--interval", type=float, default=5.0, help="Seconds (simulated) between fixes."
        )
        parser.add_argument(
            "--speedup",
            type=float,
            default=1.0,
            help="Simulated seconds per wall-clock second. With --duration, the simulated clock "
            "starts in the past so that it reaches 'now' at the end (the server refuses fixes "
            "from the future).",
        )
        parser.add_argument(
            "--anomalies",
            default="",
            metavar="KINDS",
            help=f"Comma-separated anomalies to inject: {','.join(ANOMALY_KINDS)} or all.",
        )
        parser.add_argument(
            "--anomaly-rate",
            type=float,
            default=0.02,
            help="Probability, per fix and per enabled anomaly, that one starts.",
        )
        parser.add_argument(
            "--duration", type=float, metavar="SECONDS", help="Stop after this many wall seconds."
        )
        parser.add_argument(
            "--token",
            default=DEMO_DEVICE_TOKEN,
            help="Device token sent as token=... with every fix ('' to send none).",
        )
        parser.add_argument(
            "--concurrency", type=int, default=32, help="At most this many requests in flight."
        )
        parser.add_argument("--method", choices=("get", "post"), default="get")
        parser.add_argument("--seed", help="Seed for a reproducible simulation.")
        parser.add_argument(
            "--start-at-hub",
            action="store_true",
            help="Start every vehicle at its hub (default: somewhere in its area).",
        )
        parser.add_argument(
            "--summary-every", type=float, default=30.0, help="Seconds between summary lines."
        )
        parser.add_argument(
            "--create-devices",
            type=int,
            metavar="N",
            help="First make sure the (single) --organization has N extra simulated vehicles "
            "with devices (<prefix>-sim-0001...), for load tests.",
        )
        parser.add_argument(
            "--create-only", action="store_true", help="With --create-devices: create, then exit."
        )
        parser.add_argument(
            "--scenario",
            action="store_true",
            help="Also play the demo scenario (demo/scenario.py): Northwind's vans nw-022..nw-030 "
            "act out every alert kind in the first minutes, then every 20 minutes.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["interval"]
        speedup = options["speedup"]
        duration = options["duration"]
        if interval < 1:
            raise CommandError("--interval must be at least 1 second.")
        if speedup <= 0:
            raise CommandError("--speedup must be positive.")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1.")
        if duration is not None and duration <= 0:
            raise CommandError("--duration must be positive.")
        try:
            anomalies = Anomalies.parse(options["anomalies"], options["anomaly_rate"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        organizations = options["organizations"]

        if options["create_devices"] is not None:
            if len(organizations) != 1:
                raise CommandError("--create-devices needs exactly one --organization SLUG.")
            created = create_devices(
                organizations[0], options["create_devices"], options["token"] or DEMO_DEVICE_TOKEN
            )
            self.stdout.write(f"Created {created} simulated vehicles with devices.")
            if options["create_only"]:
                return

        if options["scenario"] and speedup != 1:
            raise CommandError("--scenario runs in real time: leave --speedup at 1.")
        devices = load_devices(organizations, options["vehicles"])
        if not devices:
            raise CommandError(
                "No active device with a vehicle to simulate (run manage.py seed_demo first?)."
            )

        now = time.time()
        start = now
        if speedup > 1:
            if duration is not None:
                start = now - duration * (speedup - 1)
            else:
                self.stderr.write(
                    "Note: with --speedup > 1 and no --duration the simulated clock runs ahead of "
                    "the real one; the server refuses fixes too far in the future."
                )
        seed = options["seed"]
        cast = (
            scenario_vehicles_build(start, interval=interval, seed=seed)
            if options["scenario"]
            else None
        )
        if options["scenario"] and cast is None:
            self.stderr.write("No scenario: its devices (nw-022..nw-030) are not all seeded.")
        scripted = {v.device_id for v in cast.vehicles.values()} if cast else set()
        fleet = Fleet.from_devices(
            [device for device in devices if device.identifier not in scripted],
            start_time=start,
            interval=interval,
            anomalies=anomalies,
            seed=seed,
            start_at_hub=options["start_at_hub"],
        )
        if cast is not None:
            fleet.vehicles.extend(cast.vehicles.values())
        sender = FleetSender(
            options["url"],
            fleet,
            SimClock(start, speedup),
            token=options["token"] or None,
            concurrency=options["concurrency"],
            method=options["method"],
            summary_every=options["summary_every"],
            log=self._log,
        )
        enabled = anomalies.enabled()
        self._log(
            f"Simulating {len(fleet)} vehicles -> {sender.endpoint} every {interval:g}s, "
            f"speedup {speedup:g}, anomalies: "
            + (f"{', '.join(enabled)} at {options['anomaly_rate']:g}" if enabled else "none")
            + (f", for {duration:g}s" if duration else "; Ctrl-C to stop")
            + (f"; scenario on {len(scripted)} of them" if cast else "")
        )
        companion = follow_routes(fleet)
        if cast is not None:
            companion = _together(companion, DemoScenario(cast, log=self._log).run())
        stats = asyncio.run(run_with_signals(sender, duration, companion=companion))
        if stats.sent and not stats.ok:
            self.stderr.write("No fix was accepted: is the server up, and is it this database?")

    def _log(self, line: str) -> None:
        self.stdout.write(f"[{time.strftime('%H:%M:%S')}] {line}")
        self.stdout.flush()


async def _together(*coroutines: Coroutine[Any, Any, None]) -> None:
    await asyncio.gather(*coroutines)


async def follow_routes(fleet: Fleet, every: float = ROUTE_POLL_S) -> None:
    """Steer every simulated vehicle that has a route on the road to its next stop, as read
    from the database every `every` seconds; vehicles without one roam as before."""
    by_device = {vehicle.device_id: vehicle for vehicle in fleet.vehicles}
    while True:
        try:
            goals = await asyncio.to_thread(route_goals_load, list(by_device))
        except DatabaseError:
            goals = None  # the database is away for a moment: keep the goals we have
        if goals is not None:
            for device_id, vehicle in by_device.items():
                vehicle.goal = goals.get(device_id)
        await asyncio.sleep(every)


async def run_with_signals(
    sender: FleetSender, duration: float | None, companion: Coroutine[Any, Any, None] | None = None
) -> SendStats:
    """Run the sender (and `companion` alongside, until the sender ends); SIGINT/SIGTERM stop
    it cleanly (a second signal: at once)."""
    loop = asyncio.get_running_loop()
    helper = asyncio.create_task(companion) if companion is not None else None
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, sender.request_stop)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / Windows
            pass
    try:
        return await sender.run(duration)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        if helper is not None:
            helper.cancel()
            await asyncio.gather(helper, return_exceptions=True)


def load_devices(organizations: list[str], limit: int | None) -> list[SimDevice]:
    """Active devices that have a vehicle (with its hub), round-robin over organizations."""
    with operator_context():
        if organizations:
            known = set(
                Organization.objects.filter(slug__in=organizations).values_list("slug", flat=True)
            )
            unknown = sorted(set(organizations) - known)
            if unknown:
                raise CommandError(f"Unknown organization: {', '.join(unknown)}")
        devices = Device.objects.filter(
            active=True, vehicle__isnull=False, vehicle__active=True
        ).select_related("vehicle__hub")
        hubs = Hub.objects.all()
        if organizations:
            devices = devices.filter(organization__slug__in=organizations)
            hubs = hubs.filter(organization__slug__in=organizations)
        hubs_of: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for hub in hubs.order_by("pk"):
            hubs_of[hub.organization_id].append((hub.latitude, hub.longitude))
        per_org: dict[int, list[SimDevice]] = defaultdict(list)
        for device in devices.order_by("organization_id", "identifier"):
            hub = device.vehicle.hub
            center = (hub.latitude, hub.longitude)
            neighbours = tuple(h for h in hubs_of[device.organization_id] if h != center)
            per_org[device.organization_id].append(SimDevice(device.identifier, center, neighbours))
    queues = [list(reversed(v)) for _, v in sorted(per_org.items())]
    chosen: list[SimDevice] = []
    while any(queues) and (limit is None or len(chosen) < limit):
        for queue in queues:
            if queue and (limit is None or len(chosen) < limit):
                chosen.append(queue.pop())
    return chosen


def create_devices(slug: str, count: int, token: str) -> int:
    """Make sure organization `slug` has simulated vehicles+devices <prefix>-sim-0001..N; return
    how many were created."""
    if count < 1:
        raise CommandError("--create-devices must be at least 1.")
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise CommandError(f"Unknown organization: {slug}")
    prefix = next((s.prefix for s in DEMO_ORGANIZATIONS if s.slug == slug), slug[:12])
    identifiers = [f"{prefix}-sim-{n:04d}" for n in range(1, count + 1)]
    with operator_context():
        taken = set(
            Device.objects.filter(identifier__in=identifiers).values_list("identifier", flat=True)
        )
    with tenant_context(organization), transaction.atomic():
        hubs = list(Hub.objects.filter(organization=organization).order_by("code"))
        if not hubs:
            raise CommandError(f"Organization {slug} has no hub.")
        missing = [(n, ident) for n, ident in enumerate(identifiers, 1) if ident not in taken]
        plates = {n: f"{prefix.upper()}-SIM-{n:04d}" for n, _ in missing}
        vehicles = {
            v.plate: v
            for v in Vehicle.objects.filter(organization=organization, plate__in=plates.values())
        }
        new_vehicles = [
            Vehicle(
                organization=organization,
                plate=plate,
                name=f"Sim van {n}",
                hub=hubs[n % len(hubs)],
                tags=["sim"],
            )
            for n, plate in plates.items()
            if plate not in vehicles
        ]
        for vehicle in Vehicle.objects.bulk_create(new_vehicles, batch_size=500):
            vehicles[vehicle.plate] = vehicle
        new_devices = []
        for n, ident in missing:
            device = Device(
                organization=organization,
                identifier=ident,
                name=f"Simulated tracker {n:04d}",
                vehicle=vehicles[plates[n]],
            )
            device.set_token(token)
            new_devices.append(device)
        Device.objects.bulk_create(new_devices, batch_size=500)
    return len(new_devices)
