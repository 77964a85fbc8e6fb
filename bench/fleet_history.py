"""The history dataset of the reporting benchmarks: 200 vehicles, 90 days, loaded by COPY.

    .venv/bin/python bench/fleet_history.py [--vehicles 200] [--days 90] [--force]

One organization ("Bench History Fleet", Europe/Amsterdam) with 4 hubs, 2 zones, 200 vans,
200 drivers and 200 trackers; for every van and every local day of the period a 10-hour shift
with a fix every 30 s (1,200 fixes: 21.6 million positions over 90 days), driving legs between
delivery stops (ignition off, GPS jitter while parked), traffic-light and engine-on pauses and
the occasional speeding burst; one route per van and day, one stop and one order per delivery
stop (~25 a day), and each order's timeline (created, out for delivery, arrived, delivered or
failed with a reason) in `deliveries_deliveryevent`, all written by COPY straight into the
tables (never through the API), then ANALYZEd.

The database `doorstep_bench_history` is kept: a rerun finds the finished dataset (the
`bench_history_meta` table records its parameters) and only migrates it, so the dashboard
benchmark (bench/dashboard.py) and the summary-report benchmark reuse it. `--force` rebuilds
it. Layout and parameters: docs/benchmarks.md, "The history dataset".

The tracks are deterministic (seeded per van and day), so two builds hold the same rows."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import sys
import time
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench._common import (  # noqa: E402
    django_setup,
    migrate,
    say,
    server_url,
    with_dbname,
)

DATABASE = os.environ.get("DOORSTEP_BENCH_HISTORY_DB") or "doorstep_bench_history"
TIMEZONE = "Europe/Amsterdam"
# A fixed period (it crosses the autumn DST change of 2026-10-25), so every run and every
# benchmark that reuses the dataset asks for the same days.
LAST_DAY = dt.date(2026, 11, 30)
EVERY_S = 30
SHIFT_S = 10 * 3600
FIXES_PER_SHIFT = SHIFT_S // EVERY_S
HUBS = [
    ("Amsterdam West", "AMS-W", 52.372, 4.836),
    ("Amsterdam Noord", "AMS-N", 52.400, 4.920),
    ("Amstelveen", "AMV", 52.305, 4.862),
    ("Zaandam", "ZDM", 52.438, 4.826),
]
FAILURE_REASONS = [
    ("not_home", "Recipient not at home"),
    ("refused", "Refused by the recipient"),
    ("address", "Address not found"),
    ("damaged", "Parcel damaged"),
]
META = "bench_history_meta"
POSITION_COLUMNS = (
    "device_id",
    "vehicle_id",
    "organization_id",
    "fix_time",
    "server_time",
    "latitude",
    "longitude",
    "speed_kmh",
    "heading",
    "altitude_m",
    "ignition",
    "attributes",
)


def database_url() -> str:
    return with_dbname(server_url(), DATABASE)


def database_exists() -> bool:
    import psycopg

    with psycopg.connect(with_dbname(server_url(), "postgres"), autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
            is not None
        )


def dataset_meta(url: str) -> dict[str, str]:
    """The finished dataset's parameters, or {} when there is none (or it was interrupted)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass(%s)", [META]).fetchone()
        if not found or found[0] is None:
            return {}
        rows = conn.execute(f"SELECT key, value FROM {META}").fetchall()  # noqa: S608 (a constant)
    meta = {str(k): str(v) for k, v in rows}
    return meta if meta.get("complete") == "yes" else {}


# --- one van's shift ---------------------------------------------------------------------------


@dataclass
class Visit:
    """A delivery stop of the shift: where and when the van stood there."""

    arrival: float
    departure: float
    latitude: float
    longitude: float


@dataclass
class Shift:
    times: list[float] = field(default_factory=list)
    latitudes: list[float] = field(default_factory=list)
    longitudes: list[float] = field(default_factory=list)
    speeds: list[float] = field(default_factory=list)
    headings: list[float] = field(default_factory=list)
    ignitions: list[bool] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)


METRES_PER_DEGREE = 111_320.0


def shift_build(rng: random.Random, *, start: float, hub_lat: float, hub_lon: float) -> Shift:
    """A 10-hour shift sampled every 30 s: leave the hub, alternate driving legs and delivery
    stops (with traffic lights, engine-on waits and now and then a stretch above 90 km/h), and
    head back to the hub for the last hour. Exactly FIXES_PER_SHIFT fixes."""
    shift = Shift()
    lat, lon, heading = hub_lat, hub_lon, rng.uniform(0, 360)
    cos_lat = math.cos(math.radians(hub_lat))
    step = 0

    def emit(speed: float, ignition: bool, jitter_m: float = 0.0) -> None:
        nonlocal lat, lon, step
        metres = speed / 3.6 * EVERY_S
        lat += metres * math.cos(math.radians(heading)) / METRES_PER_DEGREE
        lon += metres * math.sin(math.radians(heading)) / (METRES_PER_DEGREE * cos_lat)
        noise_lat = rng.gauss(0, jitter_m) / METRES_PER_DEGREE if jitter_m else 0.0
        noise_lon = rng.gauss(0, jitter_m) / (METRES_PER_DEGREE * cos_lat) if jitter_m else 0.0
        shift.times.append(start + step * EVERY_S)
        shift.latitudes.append(round(lat + noise_lat, 6))
        shift.longitudes.append(round(lon + noise_lon, 6))
        shift.speeds.append(round(speed, 1))
        shift.headings.append(round(heading % 360, 1))
        shift.ignitions.append(ignition)
        step += 1

    def steps_left() -> int:
        return FIXES_PER_SHIFT - step

    def toward_hub() -> float:
        north = (hub_lat - lat) * METRES_PER_DEGREE
        east = (hub_lon - lon) * METRES_PER_DEGREE * cos_lat
        return math.degrees(math.atan2(east, north)) % 360

    def away_from_hub_m() -> float:
        north = (hub_lat - lat) * METRES_PER_DEGREE
        east = (hub_lon - lon) * METRES_PER_DEGREE * cos_lat
        return math.hypot(north, east)

    for _ in range(rng.randint(10, 30)):  # loading at the hub, engine off
        emit(0.0, False, jitter_m=3)
    while steps_left() > 120:
        heading = (
            toward_hub()
            if away_from_hub_m() > 9000
            else (heading + rng.choice((-90, -45, 0, 45, 90))) % 360
        )
        kmh = rng.uniform(24, 46)
        for _ in range(rng.randint(10, 22)):  # 5-11 minutes of driving
            emit(max(6.0, rng.gauss(kmh, 4)), True)
        if rng.random() < 0.08:  # a stretch of ring road above the speeding threshold
            for _ in range(rng.randint(2, 5)):
                emit(rng.uniform(92, 108), True)
        if rng.random() < 0.5:  # a traffic light
            emit(0.0, True)
            emit(0.0, True)
        for _ in range(rng.randint(4, 10)):
            emit(max(6.0, rng.gauss(kmh, 4)), True)
        arrival = start + step * EVERY_S
        # 5-10 minutes at the door, engine off; now and then with the engine running (double
        # parking, a cold chain): that is the idle time the dashboards put a cost on.
        engine_on = rng.random() < 0.15
        for _ in range(rng.randint(10, 20)):
            emit(0.0, engine_on, jitter_m=6)
        shift.visits.append(
            Visit(arrival, start + (step - 1) * EVERY_S, shift.latitudes[-1], shift.longitudes[-1])
        )
    heading = toward_hub()  # back to the hub, then parked till the shift ends
    for _ in range(min(60, steps_left())):
        emit(30.0 if away_from_hub_m() > 300 else 0.0, away_from_hub_m() > 300)
        heading = toward_hub()
    while steps_left() > 0:
        emit(0.0, False, jitter_m=3)
    return shift


# --- the organization ----------------------------------------------------------------------------


@dataclass
class Fleet:
    organization_id: int
    hub_ids: list[int]
    hub_points: list[tuple[float, float]]
    vehicle_ids: list[int]
    vehicle_hubs: list[int]
    driver_ids: list[int]
    device_ids: list[int]
    reason_ids: list[int]


def fleet_seed(vehicles: int) -> Fleet:
    from django_scopes import scopes_disabled

    from deliveries.models import FailureReason
    from fleet.models import Device, Driver, Hub, Vehicle, Zone
    from tenancy.models import Organization

    with scopes_disabled():
        org = Organization.objects.create(
            name="Bench History Fleet", slug="bench-history-fleet", timezone=TIMEZONE
        )
        hubs = [
            Hub.objects.create(organization=org, name=name, code=code, latitude=lat, longitude=lon)
            for name, code, lat, lon in HUBS
        ]
        for hub in hubs[:2]:
            ring = [
                [hub.longitude + dx, hub.latitude + dy]
                for dx, dy in (
                    (-0.05, -0.03),
                    (0.05, -0.03),
                    (0.05, 0.03),
                    (-0.05, 0.03),
                    (-0.05, -0.03),
                )
            ]
            Zone.objects.create(
                organization=org,
                name=f"{hub.name} service area",
                kind=Zone.Kind.SERVICE_AREA,
                hub=hub,
                geometry={"type": "Polygon", "coordinates": [ring]},
            )
        drivers = Driver.objects.bulk_create(
            [
                Driver(organization=org, name=f"Driver {n + 1:03d}", hub=hubs[n % len(hubs)])
                for n in range(vehicles)
            ]
        )
        vans = Vehicle.objects.bulk_create(
            [
                Vehicle(
                    organization=org,
                    plate=f"BH-{n + 1:03d}",
                    name=f"Van {n + 1}",
                    hub=hubs[n % len(hubs)],
                    driver=drivers[n],
                    tags=["bench"],
                )
                for n in range(vehicles)
            ]
        )
        devices = Device.objects.bulk_create(
            [
                Device(
                    organization=org,
                    identifier=f"bench-history-{n + 1:04d}",
                    name=f"Tracker {n + 1}",
                    vehicle=vans[n],
                )
                for n in range(vehicles)
            ]
        )
        reasons = [
            FailureReason.objects.get_or_create(
                organization=org, code=code, defaults={"label": label}
            )[0]
            for code, label in FAILURE_REASONS
        ]
    return Fleet(
        organization_id=org.pk,
        hub_ids=[h.pk for h in hubs],
        hub_points=[(h.latitude, h.longitude) for h in hubs],
        vehicle_ids=[v.pk for v in vans],
        vehicle_hubs=[n % len(hubs) for n in range(vehicles)],
        driver_ids=[d.pk for d in drivers],
        device_ids=[d.pk for d in devices],
        reason_ids=[r.pk for r in reasons],
    )


def partitions_create(url: str, first: dt.date, last: dt.date) -> None:
    """One daily partition per UTC day the shifts touch (as partitions_ensure makes them)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        day = first - dt.timedelta(days=1)
        while day <= last + dt.timedelta(days=1):
            following = day + dt.timedelta(days=1)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS fleet_position_p{day:%Y%m%d} PARTITION OF fleet_position "
                f"FOR VALUES FROM ('{day.isoformat()} 00:00+00') TO ('{following.isoformat()} 00:00+00')"
            )
            day = following


# --- loading -----------------------------------------------------------------------------------


@dataclass
class Counters:
    positions: int = 0
    orders: int = 0
    stops: int = 0
    routes: int = 0
    events: int = 0


class Ids:
    """Primary keys handed out here (the tables are empty and the dataset is written in one
    go), so stops and events can name their orders without reading them back."""

    def __init__(self) -> None:
        self.order = self.route = self.stop = self.event = 0

    def next(self, name: str) -> int:
        value = getattr(self, name) + 1
        setattr(self, name, value)
        return value


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def day_rows(
    fleet: Fleet, day: dt.date, ids: Ids, tokens: random.Random
) -> tuple[list[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
    """Every van's positions of one local day, and the day's routes, orders, stops, events."""
    zone = zoneinfo.ZoneInfo(TIMEZONE)
    positions: list[tuple[Any, ...]] = []
    rows: dict[str, list[tuple[Any, ...]]] = {"route": [], "order": [], "stop": [], "event": []}
    for index, vehicle_id in enumerate(fleet.vehicle_ids):
        rng = random.Random(f"{day.isoformat()}:{index}")
        begins = dt.datetime.combine(day, dt.time(7, 0), tzinfo=zone) + dt.timedelta(
            minutes=rng.randint(0, 90)
        )
        hub_index = fleet.vehicle_hubs[index]
        hub_lat, hub_lon = fleet.hub_points[hub_index]
        shift = shift_build(rng, start=begins.timestamp(), hub_lat=hub_lat, hub_lon=hub_lon)
        device_id = fleet.device_ids[index]
        for t, lat, lon, speed, heading, ignition in zip(
            shift.times, shift.latitudes, shift.longitudes, shift.speeds, shift.headings, shift.ignitions,
            strict=True,
        ):  # fmt: skip
            moment = _utc(t)
            positions.append(
                (device_id, vehicle_id, fleet.organization_id, moment, moment, lat, lon, speed, heading, 2.0, ignition, "{}")
            )  # fmt: skip
        _route_rows(fleet, index, day, begins, shift, rng, tokens, ids, rows)
    return positions, rows


def _route_rows(
    fleet: Fleet, index: int, day: dt.date, begins: dt.datetime, shift: Shift,
    rng: random.Random, tokens: random.Random, ids: Ids, rows: dict[str, list[tuple[Any, ...]]],
) -> None:  # fmt: skip
    org, hub_id = fleet.organization_id, fleet.hub_ids[fleet.vehicle_hubs[index]]
    route_id = ids.next("route")
    created = begins - dt.timedelta(hours=14)
    rows["route"].append(
        (route_id, day, "completed", created, fleet.driver_ids[index], hub_id, org, fleet.vehicle_ids[index], begins, 1,
         begins + dt.timedelta(seconds=SHIFT_S))
    )  # fmt: skip
    for sequence, visit in enumerate(shift.visits, start=1):
        order_id = ids.next("order")
        arrival, departure = _utc(visit.arrival), _utc(visit.departure)
        # Planned a little off what happened: most arrivals fall inside their 2-hour window,
        # some just after it (traffic), a few well before it.
        planned = arrival + dt.timedelta(minutes=rng.gauss(0, 25))
        window_start = planned - dt.timedelta(minutes=45)
        window_end = planned + dt.timedelta(minutes=75)
        failed = rng.random() < 0.05
        status = "failed" if failed else "delivered"
        reason = fleet.reason_ids[rng.randrange(len(fleet.reason_ids))] if failed else None
        done = departure - dt.timedelta(seconds=30)
        rows["order"].append(
            (
                order_id, f"BH-{day:%Y%m%d}-{index + 1:03d}-{sequence:02d}", _token(tokens),
                f"Customer {order_id}", "", "", f"Benchstraat {sequence}, Amsterdam",
                visit.latitude, visit.longitude, window_start, window_end, 5, 0, 2.5, 10.0, "",
                status, created, done, hub_id, org,
            )
        )  # fmt: skip
        stop_id = ids.next("stop")
        rows["stop"].append(
            (stop_id, sequence, planned, arrival, arrival, departure, order_id, org, route_id, arrival, False)
        )  # fmt: skip
        timeline = [
            ("", "created", created, "api", None),
            ("created", "out_for_delivery", begins, "driver", None),
            ("out_for_delivery", "arrived", arrival, "driver", None),
            ("arrived", status, done, "driver", reason),
        ]
        for from_status, to_status, at, source, reason_id in timeline:
            rows["event"].append(
                (ids.next("event"), from_status, to_status, at, source, visit.latitude, visit.longitude, "", None, org, reason_id, order_id)
            )  # fmt: skip


TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _token(rng: random.Random) -> str:
    # Unique and deterministic; the benchmark does not need the production code's secrecy.
    return "bh" + "".join(rng.choices(TOKEN_ALPHABET, k=20))


TABLES = {
    "route": (
        "deliveries_route",
        "id, date, status, created_at, driver_id, hub_id, organization_id, vehicle_id, dispatched_at, plan_version, "
        "updated_at",
    ),
    "order": (
        "deliveries_order",
        "id, reference, tracking_code, customer_name, phone, email, address, latitude, longitude, "
        "window_start, window_end, service_minutes, priority, weight_kg, volume_l, notes, status, "
        "created_at, updated_at, hub_id, organization_id",
    ),
    "stop": (
        "deliveries_stop",
        "id, sequence, planned_arrival, eta, actual_arrival, actual_departure, order_id, "
        "organization_id, route_id, eta_updated_at, late_risk",
    ),
    "event": (
        "deliveries_deliveryevent",
        "id, from_status, to_status, at, source, latitude, longitude, note, actor_id, "
        "organization_id, failure_reason_id, order_id",
    ),
}


def _copy(conn: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    # Straight into the tables (tenancy.copy.copy_rows): the benchmark builds its database as
    # the superuser, whom row-level security does not apply to.
    from tenancy.copy import copy_rows

    with conn.cursor() as cursor:
        copy_rows(cursor, table, [name.strip() for name in columns.split(",")], rows)


def days_of(last: dt.date, days: int) -> Iterator[dt.date]:
    for offset in range(days - 1, -1, -1):
        yield last - dt.timedelta(days=offset)


def load(url: str, fleet: Fleet, days: int) -> Counters:
    import psycopg

    counters, ids, tokens = Counters(), Ids(), random.Random("tracking-codes")
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        for number, day in enumerate(days_of(LAST_DAY, days), start=1):
            positions, rows = day_rows(fleet, day, ids, tokens)
            _copy(conn, "fleet_position", ", ".join(POSITION_COLUMNS), positions)
            for key in ("route", "order", "stop", "event"):
                _copy(conn, *TABLES[key], rows[key])
            conn.commit()
            counters.positions += len(positions)
            counters.routes += len(rows["route"])
            counters.orders += len(rows["order"])
            counters.stops += len(rows["stop"])
            counters.events += len(rows["event"])
            if number % 5 == 0 or number == days:
                rate = counters.positions / max(time.monotonic() - started, 1e-9)
                say(
                    f"  day {number}/{days} ({day}): {counters.positions:,} positions, {counters.orders:,} orders, {rate:,.0f} positions/s"
                )
        for table in (
            "deliveries_route",
            "deliveries_order",
            "deliveries_stop",
            "deliveries_deliveryevent",
        ):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        conn.commit()
    return counters


def meta_write(url: str, values: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {META} (key text PRIMARY KEY, value text NOT NULL)"
        )
        for key, value in values.items():
            conn.execute(
                f"INSERT INTO {META} (key, value) VALUES (%s, %s) "  # noqa: S608 (a constant)
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )


def dataset_ensure(*, vehicles: int = 200, days: int = 90, force: bool = False) -> dict[str, str]:
    """The dataset, built if missing (or `force`); always migrated to the code's models.
    Returns its parameters (bench_history_meta)."""
    from bench._common import recreate_database

    url = database_url()
    if database_exists() and not force:
        meta = dataset_meta(url)
        if meta and int(meta["vehicles"]) == vehicles and int(meta["days"]) == days:
            migrate(url, DATABASE)
            say(
                f"reusing {DATABASE}: {int(meta['positions']):,} positions, {meta['first_day']} .. {meta['last_day']}"
            )
            return meta
    started = time.monotonic()
    url = recreate_database(DATABASE)
    migrate(url, DATABASE)
    django_setup(url)
    fleet = fleet_seed(vehicles)
    first = LAST_DAY - dt.timedelta(days=days - 1)
    partitions_create(url, first, LAST_DAY)
    say(f"loading {vehicles} vans x {days} days ({first} .. {LAST_DAY}) by COPY")
    counters = load(url, fleet, days)
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    meta = {
        "complete": "yes",
        "organization_id": str(fleet.organization_id),
        "vehicles": str(vehicles),
        "days": str(days),
        "first_day": first.isoformat(),
        "last_day": LAST_DAY.isoformat(),
        "timezone": TIMEZONE,
        "positions": str(counters.positions),
        "routes": str(counters.routes),
        "orders": str(counters.orders),
        "stops": str(counters.stops),
        "events": str(counters.events),
        "built_seconds": f"{time.monotonic() - started:.0f}",
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    meta_write(url, meta)
    say(f"built {DATABASE} in {meta['built_seconds']} s: {counters}")
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--force", action="store_true", help="rebuild even if the dataset exists")
    args = parser.parse_args()
    dataset_ensure(vehicles=args.vehicles, days=args.days, force=args.force)


if __name__ == "__main__":
    main()
