import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from demo.history import HistoryCounts, demo_history_seed
from demo.seed import demo_seed
from demo.tenants import demo_logins, demo_organizations


class Command(BaseCommand):
    help = (
        "Create the demo organizations, hubs, zones, vehicles, devices and one user per role; "
        "with --history-days N, also N past days of history (positions, routes, orders, "
        "proofs, alerts, rollups)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--history-days",
            type=int,
            default=0,
            help="Seed this many past local days of history (0: none; days already seeded stay).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["history_days"]
        if not 0 <= days <= 120:
            self.stderr.write("--history-days must be between 0 and 120.")
            raise SystemExit(2)
        created = demo_seed()
        if created:
            self.stdout.write(f"Created demo organizations: {', '.join(o.name for o in created)}")
        else:
            self.stdout.write("Demo organizations already present.")
        if days:
            self._history(days)
        self.stdout.write("Demo logins (password for all: doorstep-demo):")
        for username, what, _password in demo_logins():
            self.stdout.write(f"  {username:<28} {what}")

    def _history(self, days: int) -> None:
        started = time.perf_counter()
        total = HistoryCounts()
        for organization in demo_organizations():
            counts = demo_history_seed(organization, days=days)
            total.add(counts)
            total.rollups += counts.rollups
        elapsed = time.perf_counter() - started
        if not total.days:
            self.stdout.write(f"History: the last {days} days are already seeded.")
            return
        self.stdout.write(
            f"History: {total.days} organization-days, {total.positions:,} positions, "
            f"{total.routes:,} routes, {total.orders:,} orders, {total.events:,} events, "
            f"{total.proofs:,} proofs, {total.alerts:,} alerts, {total.rollups:,} rollups "
            f"in {elapsed:.1f} s."
        )
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in total.seconds.items())
        self.stdout.write(f"  ({phases})")
