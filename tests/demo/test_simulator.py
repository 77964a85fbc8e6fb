"""The demo fleet simulation: road network, simulated vehicles and anomalies, and the sender that
posts fixes to the OsmAnd endpoint (exercised against a stub HTTP server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import io
import json
import math
import random
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from demo.simulator import roads
from demo.simulator.driver import (
    ANOMALY_KINDS,
    NO_ANOMALIES,
    Anomalies,
    Fix,
    Fleet,
    SimDevice,
    SimulatedVehicle,
)
from demo.simulator.roads import build_network, roads_geojson
from demo.simulator.runner import FleetSender, SimClock
from fleet.geo import haversine_m
from tests.support.stack import free_port

AMS_WEST = (52.3720, 4.8360)
AMS_EAST = (52.3600, 4.9400)
LIS_CENTRO = (38.7223, -9.1393)
LIS_BELEM = (38.6979, -9.2060)
DEMO_HUBS = [AMS_WEST, AMS_EAST, LIS_CENTRO, LIS_BELEM]
T0 = 1_750_000_000.0


# -- road network ------------------------------------------------------------------------------


def network_signature(network: roads.RoadNetwork) -> tuple[Any, ...]:
    return (
        tuple(sorted(network.nodes.items())),
        tuple(sorted((e.a, e.b, e.length_m, e.speed_kmh, e.kind) for e in network.edges())),
    )


def test_road_network_is_deterministic() -> None:
    first = network_signature(build_network(*AMS_WEST, [AMS_EAST]))
    roads._build_cached.cache_clear()
    again = network_signature(build_network(*AMS_WEST, [AMS_EAST]))
    assert first == again
    assert first != network_signature(build_network(*AMS_EAST, [AMS_WEST]))
    # Far-away hubs cannot clip the grid, so they do not change it.
    assert first == network_signature(build_network(*AMS_WEST, [AMS_EAST, LIS_CENTRO]))


@pytest.mark.parametrize("hub", DEMO_HUBS)
def test_road_network_is_connected_and_city_sized(hub: tuple[float, float]) -> None:
    network = build_network(*hub, [h for h in DEMO_HUBS if h != hub])
    assert network.is_connected()
    assert 300 <= len(network.nodes) <= 700
    assert haversine_m(*hub, *network.nodes[network.hub_node]) < 100
    reach = max(haversine_m(*hub, *point) for point in network.nodes.values())
    assert 2500 < reach < 4500
    lengths = [e.length_m for e in network.edges()]
    assert 150 < sum(lengths) / len(lengths) < 350
    assert max(lengths) < 700
    kinds: dict[str, set[float]] = defaultdict(set)
    for edge in network.edges():
        kinds[edge.kind].add(edge.speed_kmh)
    assert set(kinds) == {"arterial", "street"}
    assert min(kinds["arterial"]) > max(kinds["street"])


def test_neighbouring_hubs_split_the_area() -> None:
    near = (LIS_BELEM[0] + 0.01, LIS_BELEM[1] + 0.025)  # ~2.5 km north-east
    west = build_network(*LIS_BELEM, [near])
    alone = build_network(*LIS_BELEM)
    assert len(west.nodes) < 0.8 * len(alone.nodes)
    assert west.is_connected()
    for point in west.nodes.values():
        assert haversine_m(*point, *LIS_BELEM) <= haversine_m(*point, *near) + 1


def test_shortest_path_follows_edges() -> None:
    network = build_network(*AMS_WEST)
    rng = random.Random(3)
    for _ in range(20):
        a, b = rng.choice(network.node_ids), rng.choice(network.node_ids)
        path = network.shortest_path(a, b)
        assert path[0] == a and path[-1] == b
        for u, v in pairwise(path):
            assert v in network.adjacency[u]
        # Never absurdly longer than the crow flies.
        direct = haversine_m(*network.nodes[a], *network.nodes[b])
        assert network.path_length_m(path) <= 2.0 * direct + 600


def test_roads_geojson() -> None:
    hubs = [SimpleNamespace(latitude=lat, longitude=lon) for lat, lon in DEMO_HUBS]
    collection = roads_geojson(hubs)
    assert collection == roads_geojson(DEMO_HUBS)
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert {f["properties"]["kind"] for f in features} == {"arterial", "street"}
    for feature in features:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "LineString"
        coordinates = feature["geometry"]["coordinates"]
        assert len(coordinates) >= 2
        lon, lat = coordinates[0]
        assert min(haversine_m(lat, lon, *hub) for hub in DEMO_HUBS) < 5000
    assert len(json.dumps(collection)) < 1_000_000
    assert roads_geojson([]) == {"type": "FeatureCollection", "features": []}


# -- simulated vehicles ------------------------------------------------------------------------


def local_xy(origin: tuple[float, float], point: tuple[float, float]) -> tuple[float, float]:
    return (
        (point[1] - origin[1]) * roads.M_PER_DEG_LAT * math.cos(math.radians(origin[0])),
        (point[0] - origin[0]) * roads.M_PER_DEG_LAT,
    )


def distance_to_segment(p: Any, a: Any, b: Any) -> float:
    (px, py), (bx, by) = local_xy(a, p), local_xy(a, b)
    length2 = bx * bx + by * by
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, (px * bx + py * by) / length2))
    return math.hypot(px - t * bx, py - t * by)


def make_vehicle(anomalies: Anomalies = NO_ANOMALIES, seed: int = 1, **kw: Any) -> SimulatedVehicle:
    network = build_network(*AMS_WEST, [AMS_EAST])
    return SimulatedVehicle(
        f"nw-{seed:03d}",
        network,
        start_time=T0,
        rng=random.Random(seed),
        anomalies=anomalies,
        **kw,
    )


def test_vehicle_moves_along_edges() -> None:
    vehicle = make_vehicle()
    network = vehicle.network
    edges_seen = set()
    for second in range(1, 3600):
        vehicle.advance(T0 + second)
        edge = vehicle.current_edge
        if edge is None:
            assert vehicle.position == network.nodes[vehicle.node]
            continue
        a, b = edge
        assert b in network.adjacency[a]
        assert distance_to_segment(vehicle.position, network.nodes[a], network.nodes[b]) < 0.5
        assert vehicle.speed * 3.6 <= network.edge(a, b).speed_kmh + 0.01
        edges_seen.add(frozenset(edge))
    assert len(edges_seen) > 20


def test_vehicle_is_replayable() -> None:
    assert make_vehicle(seed=5).advance(T0 + 900) == make_vehicle(seed=5).advance(T0 + 900)
    assert make_vehicle(seed=5).advance(T0 + 900) != make_vehicle(seed=6).advance(T0 + 900)


def test_fixes_and_speeds_are_plausible() -> None:
    fixes: list[Fix] = []
    for seed in range(1, 6):
        vehicle = make_vehicle(seed=seed, interval=5)
        fixes += [fix for step in range(1, 25) for fix in vehicle.advance(T0 + step * 300)]
        per_vehicle = [f for f in fixes if f.device_id == vehicle.device_id]
        assert [b.timestamp - a.timestamp for a, b in pairwise(per_vehicle)] == [5] * (
            len(per_vehicle) - 1
        )
        for a, b in pairwise(per_vehicle):
            implied_kmh = haversine_m(a.lat, a.lon, b.lat, b.lon) / 5 * 3.6
            assert implied_kmh < 100
        # The battery drains (or charges at the hub) slowly.
        assert all(abs(b.battery - a.battery) < 0.15 for a, b in pairwise(per_vehicle))
        assert per_vehicle[-1].battery != per_vehicle[0].battery
    for fix in fixes:
        assert fix.speed_kmh <= fix.speed_limit_kmh * 1.05
        assert 3 <= fix.accuracy <= 15
        assert 0 <= fix.bearing < 360
        assert 5 <= fix.battery <= 100
        assert haversine_m(fix.lat, fix.lon, *AMS_WEST) < 4500
    moving = [f.speed_kmh for f in fixes if f.speed_kmh > 1]
    assert 0.3 < len(moving) / len(fixes) < 0.95  # deliveries: they stop, and they drive
    assert 15 < sum(moving) / len(moving) < 55
    assert max(moving) > 40  # arterials are used
    # Somebody dwelt at a stop for at least 30 s (six zero-speed fixes in a row).
    stops = "".join("0" if f.speed_knots == 0 else "1" for f in fixes)
    assert "000000" in stops


def test_vehicles_come_back_to_the_hub() -> None:
    vehicle = make_vehicle(seed=2, start_at_hub=True)
    hub_node = vehicle.network.hub_node
    visits = 0
    for step in range(1, 8 * 3600 // 30):
        vehicle.advance(T0 + step * 30)
        visits += vehicle.mode == "dwell" and vehicle.node == hub_node
    assert visits > 10


# -- anomalies ---------------------------------------------------------------------------------


def implied_kmh(a: Fix, b: Fix) -> float:
    return haversine_m(a.lat, a.lon, b.lat, b.lon) / abs(b.timestamp - a.timestamp) * 3.6


DETECTORS = {
    "duplicates": lambda fixes: any(a == b for a, b in pairwise(fixes)),
    "out_of_order": lambda fixes: any(b.timestamp < a.timestamp for a, b in pairwise(fixes)),
    "jumps": lambda fixes: any(
        implied_kmh(a, b) > 500 for a, b in pairwise(fixes) if a.timestamp != b.timestamp
    ),
    "speeding": lambda fixes: any(f.speed_kmh > 1.3 * f.speed_limit_kmh for f in fixes),
    "offline": lambda fixes: any(b.timestamp - a.timestamp > 120 for a, b in pairwise(fixes)),
    "stops": lambda fixes: standing_away_from_hub(fixes) >= 72,  # 6 min; deliveries last 3
}


def standing_away_from_hub(fixes: list[Fix]) -> int:
    """The longest run of standing fixes more than 300 m from the hub (hub dwells are long)."""
    longest = run = 0
    for fix in fixes:
        standing = fix.speed_knots == 0 and haversine_m(fix.lat, fix.lon, *AMS_WEST) > 300
        run = run + 1 if standing else 0
        longest = max(longest, run)
    return longest


def simulated_fixes(anomalies: Anomalies, hours: float = 3) -> dict[str, list[Fix]]:
    fleet = Fleet.from_devices(
        [SimDevice(f"nw-{n:03d}", AMS_WEST, (AMS_EAST,)) for n in range(1, 4)],
        start_time=T0,
        interval=5,
        anomalies=anomalies,
        seed=11,
    )
    by_device: dict[str, list[Fix]] = defaultdict(list)
    for step in range(1, int(hours * 60) + 1):
        for fix in fleet.advance(T0 + step * 60):
            by_device[fix.device_id].append(fix)
    return by_device


def detected(by_device: dict[str, list[Fix]]) -> set[str]:
    return {
        kind
        for kind, detect in DETECTORS.items()
        if any(detect(fixes) for fixes in by_device.values())
    }


def test_no_anomaly_when_disabled() -> None:
    by_device = simulated_fixes(Anomalies())
    assert detected(by_device) == set()
    for fixes in by_device.values():
        assert all(b.timestamp - a.timestamp == 5 for a, b in pairwise(fixes))
        assert not any(f.anomalies for f in fixes)


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_each_anomaly_appears_only_when_enabled(kind: str) -> None:
    by_device = simulated_fixes(Anomalies(**{kind: 0.03}))
    assert detected(by_device) == {kind}


def test_anomaly_shapes() -> None:
    fixes = [f for fs in simulated_fixes(Anomalies.parse("all", 0.03)).values() for f in fs]
    tags = defaultdict(list)
    for fix in fixes:
        for tag in fix.anomalies:
            tags[tag].append(fix)
    assert set(tags) == {"speeding", "jump", "duplicate", "out_of_order", "stopped"}
    # While speeding a driver still slows down for turns and stops, but mostly speeds.
    speeding = tags["speeding"]
    assert sum(f.speed_kmh > 1.2 * f.speed_limit_kmh for f in speeding) > len(speeding) / 2


def test_anomalies_parse() -> None:
    assert Anomalies.parse("", 0.5) == Anomalies()
    assert Anomalies.parse("offline, jumps", 0.1) == Anomalies(offline=0.1, jumps=0.1)
    assert Anomalies.parse(["out-of-order", "duplicate"], 0.2).enabled() == [
        "duplicates",
        "out_of_order",
    ]
    assert Anomalies.parse("all", 0.02).enabled() == list(ANOMALY_KINDS)
    with pytest.raises(ValueError, match="unknown anomaly"):
        Anomalies.parse("teleport", 0.1)
    with pytest.raises(ValueError):
        Anomalies.parse("offline", 2)


def test_osmand_params() -> None:
    fix = make_vehicle().advance(T0 + 10)[0]
    params = fix.osmand_params("secret")
    assert set(params) == {
        "id", "timestamp", "lat", "lon", "speed", "bearing", "altitude", "accuracy", "batt", "token"
    }  # fmt: skip
    assert params["id"] == "nw-001"
    assert int(params["timestamp"]) == fix.timestamp
    assert float(params["lat"]) == fix.lat and float(params["lon"]) == fix.lon
    assert "token" not in fix.osmand_params(None)


# -- sending to a (stub) OsmAnd endpoint -------------------------------------------------------


class StubOsmAnd:
    """A tiny OsmAnd endpoint on 127.0.0.1 that records every request.

    `statuses`: status codes to answer first, in order (then 200); `unknown`: device ids that get
    400 (like an unknown device)."""

    def __init__(self, port: int = 0, statuses: list[int] | None = None, unknown: Any = ()):
        self.requests: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        self.unknown = set(unknown)
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer({})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.answer(dict(parse_qsl(self.rfile.read(length).decode())))

            def answer(self, form: dict[str, str]) -> None:
                url = urlsplit(self.path)
                params = {**dict(parse_qsl(url.query)), **form}
                with stub.lock:
                    stub.requests.append(
                        {"method": self.command, "path": url.path, "params": params}
                    )
                    status = stub.statuses.pop(0) if stub.statuses else 200
                if url.path != "/ingest/osmand/" or params.get("id") in stub.unknown:
                    status = 400
                body = b"OK" if status == 200 else b"nope"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    server = StubOsmAnd()
    yield server
    server.close()


def small_fleet(count: int = 3, start: float | None = None, **kw: Any) -> Fleet:
    return Fleet.from_devices(
        [SimDevice(f"sb-{n:03d}", LIS_CENTRO, (LIS_BELEM,)) for n in range(1, count + 1)],
        start_time=start if start is not None else time.time(),
        interval=5,
        seed=4,
        **kw,
    )


def sender_for(url: str, fleet: Fleet, speedup: float = 20.0, **kw: Any) -> FleetSender:
    start = fleet.vehicles[0].t
    lines: list[str] = []
    sender = FleetSender(
        url,
        fleet,
        SimClock(start, speedup),
        token="demo-device-token",
        concurrency=4,
        backoff_initial=0.05,
        backoff_max=0.3,
        log=lines.append,
        **kw,
    )
    sender.lines = lines  # type: ignore[attr-defined]
    return sender


def assert_valid_osmand(request: dict[str, Any], ids: set[str], start: float, end: float) -> None:
    assert request["path"] == "/ingest/osmand/"
    params = request["params"]
    assert params["id"] in ids
    assert -90 <= float(params["lat"]) <= 90 and -180 <= float(params["lon"]) <= 180
    assert haversine_m(float(params["lat"]), float(params["lon"]), *LIS_CENTRO) < 5000
    assert start - 1 <= int(params["timestamp"]) <= end
    assert float(params["speed"]) >= 0
    assert params["token"] == "demo-device-token"


async def test_sender_posts_osmand_fixes_to_the_endpoint(stub: StubOsmAnd) -> None:
    fleet = small_fleet()
    start = fleet.vehicles[0].t
    sender = sender_for(stub.url, fleet)
    began = time.monotonic()
    stats = await sender.run(duration=2.0)
    simulated = (time.monotonic() - began) * 20
    requests = stub.requests
    ids = {v.device_id for v in fleet.vehicles}
    # >= 40 s of simulated time at one fix every 5 s: ~8 fixes per vehicle.
    for device in ids:
        assert 6 <= sum(r["params"]["id"] == device for r in requests) <= simulated / 5 + 2
    for request in requests:
        assert request["method"] == "GET"
        assert_valid_osmand(request, ids, start, start + simulated + 1)
    # One request per fix, each device's fixes in order.
    assert stats.sent == stats.ok == len(requests)
    assert stats.rejected == stats.errors == stats.dropped == 0
    for device in ids:
        times = [int(r["params"]["timestamp"]) for r in requests if r["params"]["id"] == device]
        assert times == sorted(times) and len(set(times)) == len(times)
    assert sender.lines[-1].startswith("done: 3 vehicles")  # type: ignore[attr-defined]


async def test_sender_post_method(stub: StubOsmAnd) -> None:
    fleet = small_fleet(count=1)
    stats = await sender_for(stub.url, fleet, speedup=40, method="post").run(duration=1.0)
    assert stats.ok == len(stub.requests) > 0
    assert all(r["method"] == "POST" and "lat" in r["params"] for r in stub.requests)


async def test_sender_retries_503_and_waits_for_a_server_that_is_not_up_yet() -> None:
    port = free_port()
    fleet = small_fleet(count=2)
    sender = sender_for(f"http://127.0.0.1:{port}", fleet)
    server: list[StubOsmAnd] = []

    async def start_server_after_a_refusal() -> None:
        while sender.stats.errors == 0:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        server.append(StubOsmAnd(port, statuses=[503] * 4))

    starter = asyncio.create_task(start_server_after_a_refusal())
    try:
        stats = await sender.run(duration=2.5)
        await starter
    finally:
        for s in server:
            s.close()
    stub = server[0]
    assert stats.errors >= 5  # connection refused at least once, plus the four 503s
    assert stats.dropped == 0 and stats.rejected == 0
    assert stats.ok == stats.sent > 0
    assert len(stub.requests) == stats.ok + 4
    assert any("not answering" in line for line in sender.lines)  # type: ignore[attr-defined]
    # Retries kept each device's order.
    for device in {"sb-001", "sb-002"}:
        ok_times = [
            int(r["params"]["timestamp"]) for r in stub.requests[4:] if r["params"]["id"] == device
        ]
        assert ok_times == sorted(ok_times)


async def test_sender_does_not_retry_rejected_fixes(stub: StubOsmAnd) -> None:
    stub.unknown = {"sb-002"}
    fleet = small_fleet(count=2)
    stats = await sender_for(stub.url, fleet).run(duration=1.5)
    rejected = [r for r in stub.requests if r["params"]["id"] == "sb-002"]
    assert stats.rejected == len(rejected) > 0
    assert stats.ok == len(stub.requests) - len(rejected)
    assert stats.errors == 0


async def test_sender_stops_on_request_even_when_the_server_is_down() -> None:
    fleet = small_fleet(count=2)
    sender = sender_for(f"http://127.0.0.1:{free_port()}", fleet)
    stop_requested: list[float] = []

    async def stop_while_failing() -> None:
        while sender.stats.errors < 2:
            await asyncio.sleep(0.02)
        stop_requested.append(time.monotonic())
        sender.request_stop()
        await asyncio.sleep(0.2)
        sender.request_stop()  # the second request: give up at once

    stopper = asyncio.create_task(stop_while_failing())
    stats = await sender.run()
    await stopper
    assert time.monotonic() - stop_requested[0] < 3
    assert stats.ok == 0 and stats.errors >= 2
    assert stats.dropped >= stats.sent > 0  # sent but never acknowledged, or still queued


async def test_sender_with_anomalies(stub: StubOsmAnd) -> None:
    fleet = small_fleet(count=3, anomalies=Anomalies(duplicates=0.5))
    stats = await sender_for(stub.url, fleet).run(duration=1.5)
    assert stats.ok == len(stub.requests)
    keys = [(r["params"]["id"], r["params"]["timestamp"]) for r in stub.requests]
    assert len(set(keys)) < len(keys)  # duplicates went out as two requests


# -- the management command --------------------------------------------------------------------


@pytest.mark.django_db
def test_command_simulates_the_database_devices(stub: StubOsmAnd, tenant_a, tenant_b) -> None:
    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "simulate_fleet",
        url=stub.url,
        organizations=[tenant_a.organization.slug],
        duration=1.5,
        speedup=30,
        interval=5,
        seed="7",
        token="device-secret",
        stdout=out,
    )
    assert "done: 1 vehicles" in out.getvalue()
    assert stub.requests
    hub = (tenant_a.hub.latitude, tenant_a.hub.longitude)
    for request in stub.requests:
        params = request["params"]
        assert params["id"] == tenant_a.device.identifier
        assert params["token"] == "device-secret"
        assert haversine_m(float(params["lat"]), float(params["lon"]), *hub) < 5000
        assert int(params["timestamp"]) <= time.time()  # backdated: never in the future


@pytest.mark.django_db
def test_command_round_robins_organizations_and_creates_devices(stub, tenant_a, tenant_b) -> None:
    from django.core.management import call_command
    from django_scopes import scopes_disabled

    from demo.management.commands.simulate_fleet import load_devices
    from fleet.models import Device

    slug = tenant_a.organization.slug
    out = io.StringIO()
    call_command(
        "simulate_fleet", create_devices=3, organizations=[slug], create_only=True, stdout=out
    )
    call_command(
        "simulate_fleet", create_devices=4, organizations=[slug], create_only=True, stdout=out
    )
    with scopes_disabled():
        sims = list(Device.objects.filter(identifier__contains="-sim-").select_related("vehicle"))
        assert sorted(d.identifier for d in sims) == [
            f"{slug[:12]}-sim-{n:04d}" for n in range(1, 5)
        ]
        assert all(d.organization_id == tenant_a.organization.pk for d in sims)
        assert all(
            d.vehicle.hub_id == tenant_a.hub.pk and d.check_token("demo-device-token") for d in sims
        )
    two = load_devices([], 2)
    assert {d.identifier for d in two} == {f"{slug[:12]}-sim-0001", tenant_b.device.identifier}
    assert len(load_devices([slug], None)) == 5


def test_kept_searches_give_the_same_paths_as_one_search_each() -> None:
    """demo/history.py asks for thousands of paths: one kept search per source answers them
    exactly as a fresh search per path would."""
    from demo.simulator.roads import build_network

    network = build_network(52.37, 4.9, [])
    rng = random.Random(11)
    nodes = list(network.node_ids)
    pairs = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(400)]
    assert [network.shortest_path_kept(a, b) for a, b in pairs] == [
        network.shortest_path(a, b) for a, b in pairs
    ]
    assert all(network.shortest_path_kept(a, b) for a, b in pairs)  # a connected network
