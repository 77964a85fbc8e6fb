"""Simulated delivery vehicles driving a hub's synthetic road network and emitting GPS fixes.

Each vehicle loops: drive the fastest path to a random address, dwell 30-180 s (a delivery), pick
the next address; after a handful of deliveries (or now and then at random) it drives back to the
hub and dwells there longer (loading, charging the tracker). Driving is integrated in steps of at
most one second: cruise at the speed limit x 0.6-1.0 (a per-driver habit with per-street noise and
slowly varying traffic), accelerate and brake at plausible rates, slow down at junctions (a lot
at turns) and stop at the destination.

A fix is taken every `interval` seconds of simulated time: the true position plus GPS noise within
the reported accuracy (3-15 m), speed in knots, bearing, altitude and a slowly draining battery.

Anomalies, each enabled by a rate = the probability, per regular fix, that one starts:

* ``offline``: the tracker stops sending for 2-20 minutes (the vehicle keeps driving);
* ``speeding``: for 40-150 s the driver goes 1.5-2x the limit;
* ``jumps``: one fix lands 0.8-3 km off (at least 600 km/h away from the previous one);
* ``duplicates``: a fix is sent twice;
* ``out_of_order``: a fix is held back and sent right after the next (newer) one;
* ``stops``: the van stands still for 6-10 minutes where it is, mid-trip, away from any stop
  (a breakdown, an unplanned break): longer than the default "Unplanned stop" rule's 5 minutes.

Everything takes its time from the caller (`advance(until)`) and its randomness from an injected
`random.Random`, so a test can replay a vehicle exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from itertools import pairwise

from fleet.geo import haversine_m

from .roads import RoadNetwork, bearing_deg, build_network, offset

KNOTS_PER_MS = 3600.0 / 1852.0
KMH_PER_KNOT = 1.852

ANOMALY_KINDS = ("offline", "speeding", "jumps", "duplicates", "out_of_order", "stops")
_ANOMALY_ALIASES = {
    "jump": "jumps",
    "duplicate": "duplicates",
    "ooo": "out_of_order",
    "stop": "stops",
}

MAX_STEP_S = 1.0
ACCELERATION = 1.3  # m/s2
COMFORT_BRAKING = 2.0  # m/s2, used to plan slowing down before junctions
MAX_BRAKING = 4.5  # m/s2
TURN_SPEED = 4.0  # m/s (~14 km/h) through a right-angle turn
LOOK_AHEAD_M = 400.0
MIN_TRIP_M = 400.0
DELIVERY_DWELL_S = (30.0, 180.0)
HUB_DWELL_S = (300.0, 900.0)
RETURN_TO_HUB_PROBABILITY = 0.05  # per delivery, on top of the planned return
OFFLINE_S = (120.0, 1200.0)
SPEEDING_S = (40.0, 150.0)
SPEEDING_FACTOR = (1.5, 2.0)
STOP_S = (360.0, 600.0)
JUMP_M = (800.0, 3000.0)
JUMP_MIN_KMH = 600.0
GOAL_WAIT_S = 20.0  # at the goal, look again this often for the next one


@dataclass(frozen=True)
class Anomalies:
    """Per-kind probability, per regular fix, that an anomaly starts (0 = disabled)."""

    offline: float = 0.0
    speeding: float = 0.0
    jumps: float = 0.0
    duplicates: float = 0.0
    out_of_order: float = 0.0
    stops: float = 0.0

    @classmethod
    def parse(cls, names: str | Iterable[str] | None, rate: float) -> Anomalies:
        """From "offline,jumps" (or "all", or "") and one rate for all named kinds."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"anomaly rate must be between 0 and 1, not {rate}")
        if isinstance(names, str):
            names = names.split(",")
        chosen: set[str] = set()
        for raw in names or ():
            name = raw.strip().lower().replace("-", "_")
            if not name:
                continue
            if name == "all":
                chosen.update(ANOMALY_KINDS)
                continue
            name = _ANOMALY_ALIASES.get(name, name)
            if name not in ANOMALY_KINDS:
                raise ValueError(
                    f"unknown anomaly {raw.strip()!r}; choose from {', '.join(ANOMALY_KINDS)}, all"
                )
            chosen.add(name)
        return cls(**dict.fromkeys(chosen, rate))

    def enabled(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) > 0]


NO_ANOMALIES = Anomalies()


@dataclass(frozen=True)
class Fix:
    """One GPS fix as a tracker would report it (values already rounded as sent)."""

    device_id: str
    timestamp: int  # unix seconds
    lat: float
    lon: float
    speed_knots: float
    bearing: float
    altitude: float
    accuracy: float
    battery: float
    # Not transmitted; for tests and diagnostics.
    speed_limit_kmh: float = 0.0
    anomalies: tuple[str, ...] = ()

    @property
    def speed_kmh(self) -> float:
        return self.speed_knots * KMH_PER_KNOT

    def osmand_params(self, token: str | None = None) -> dict[str, str]:
        """Query/form parameters of the OsmAnd protocol (speed in knots)."""
        params = {
            "id": self.device_id,
            "timestamp": str(self.timestamp),
            "lat": f"{self.lat:.6f}",
            "lon": f"{self.lon:.6f}",
            "speed": f"{self.speed_knots:.2f}",
            "bearing": f"{self.bearing:.1f}",
            "altitude": f"{self.altitude:.1f}",
            "accuracy": f"{self.accuracy:.1f}",
            "batt": f"{self.battery:.1f}",
        }
        if token:
            params["token"] = token
        return params


class SimulatedVehicle:
    """One vehicle with its tracker. Call `advance(until)` with increasing simulated unix times;
    it returns the fixes the tracker sends up to then, in sending order."""

    def __init__(
        self,
        device_id: str,
        network: RoadNetwork,
        *,
        start_time: float,
        rng: random.Random,
        interval: float = 5.0,
        anomalies: Anomalies = NO_ANOMALIES,
        start_at_hub: bool = False,
        first_fix_at: float | None = None,
    ) -> None:
        if interval < 1.0:
            raise ValueError("the fix interval must be at least 1 s (timestamps are whole seconds)")
        self.device_id = device_id
        self.network = network
        self.rng = rng
        self.interval = float(interval)
        self.anomalies = anomalies
        self.t = float(start_time)
        self.next_fix_at = (
            first_fix_at if first_fix_at is not None else self.t + rng.uniform(0, self.interval)
        )
        # Driver habits
        self.habit = rng.uniform(0.72, 0.95)
        self.traffic = 1.0
        self.battery = rng.uniform(55.0, 100.0)
        self.drain_per_s = rng.uniform(2.0, 5.0) / 3600.0
        self.altitude_base = rng.uniform(0.0, 25.0)
        # Motion state
        self.speed = 0.0  # m/s
        self.heading = rng.uniform(0.0, 360.0)
        self.mode = "dwell"
        self.dwell_until = self.t + rng.uniform(0.0, 20.0)
        self.at_hub = start_at_hub
        self.deliveries_left = rng.randint(1, 12)
        self.heading_home = False
        self.node = network.hub_node if start_at_hub else rng.choice(network.node_ids)
        self.position = network.nodes[self.node]
        self._route: list[int] = [self.node]
        self._seg_len: list[float] = []
        self._seg_limit: list[float] = []  # m/s
        self._seg_cruise: list[float] = []  # m/s
        self._seg_bearing: list[float] = []
        self._turn_speed: list[float | None] = []  # at the end of each segment; None = straight
        self._seg = 0
        self._s_in_seg = 0.0
        # Anomaly state
        self.offline_until = -math.inf
        self.speeding_until = -math.inf
        self.speeding_factor = 1.0
        self.stopped_until = -math.inf
        self._held: list[Fix] = []
        # Where the vehicle's route wants it next (see the `goal` property); None: roam.
        self._goal: tuple[float, float] | None = None
        self._goal_node: int | None = None

    # -- public -------------------------------------------------------------------------------

    @property
    def goal(self) -> tuple[float, float] | None:
        """Where the vehicle's route wants it next, (lat, lon); None: roam as usual."""
        return self._goal

    @goal.setter
    def goal(self, value: tuple[float, float] | None) -> None:
        if value == self._goal:
            return
        self._goal = value
        self._goal_node = None if value is None else self.network.nearest_node(*value)
        # A new stop to go to: finish what the van is doing soon, turn at the next junction.
        if value is not None and self.mode == "dwell":
            self.dwell_until = min(self.dwell_until, self.t + DELIVERY_DWELL_S[0])

    @property
    def speeding(self) -> bool:
        return self.t < self.speeding_until

    @property
    def current_edge(self) -> tuple[int, int] | None:
        """The (from, to) nodes of the road the vehicle is on while driving."""
        if self.mode != "drive":
            return None
        return self._route[self._seg], self._route[self._seg + 1]

    @property
    def speed_limit_kmh(self) -> float:
        if self.mode == "drive":
            return self._seg_limit[self._seg] * 3.6
        edges = self.network.adjacency[self.node].values()
        return max((e.speed_kmh for e in edges), default=0.0)

    def advance(self, until: float) -> list[Fix]:
        out: list[Fix] = []
        while True:
            step_end = min(self.t + MAX_STEP_S, self.next_fix_at, until)
            if step_end > self.t:
                self._tick(step_end - self.t)
                self.t = step_end
            if self.t >= self.next_fix_at:
                out.extend(self._fix())
                self.next_fix_at += self.interval
            elif self.t >= until:
                return out

    # -- motion -------------------------------------------------------------------------------

    def _tick(self, dt: float) -> None:
        if self.at_hub and self.mode == "dwell":
            self.battery = min(100.0, self.battery + dt * 30.0 / 3600.0)
        else:
            self.battery = max(5.0, self.battery - dt * self.drain_per_s)
        if self.mode == "dwell":
            self.speed = 0.0
            if self.t + dt >= self.dwell_until:
                self._start_trip()
            return
        if self.t < self.stopped_until:  # the "stops" anomaly: standing mid-trip
            self.speed = 0.0
            return
        self.traffic = min(1.0, max(0.85, self.traffic + self.rng.gauss(0.0, 0.01) * math.sqrt(dt)))
        target = self._target_speed()
        if self.speed < target:
            self.speed = min(target, self.speed + ACCELERATION * dt)
        else:
            self.speed = max(target, self.speed - MAX_BRAKING * dt)
        self._move(self.speed * dt)

    def _cruise(self, seg: int) -> float:
        if self.speeding:
            return self._seg_limit[seg] * self.speeding_factor
        return self._seg_cruise[seg] * self.traffic

    def _node_speed(self, seg: int) -> float:
        """Highest speed at the junction at the end of segment `seg`."""
        if seg == len(self._seg_len) - 1:
            return 0.0
        turn = self._turn_speed[seg]
        straight = 0.85 * min(self._cruise(seg), self._cruise(seg + 1))
        return straight if turn is None else min(turn, straight)

    def _target_speed(self) -> float:
        target = self._cruise(self._seg)
        distance = self._seg_len[self._seg] - self._s_in_seg
        for seg in range(self._seg, len(self._seg_len)):
            node_v = self._node_speed(seg)
            target = min(target, math.sqrt(node_v**2 + 2 * COMFORT_BRAKING * max(0.0, distance)))
            if distance > LOOK_AHEAD_M or seg + 1 >= len(self._seg_len):
                break
            distance += self._seg_len[seg + 1]
        # Always creep forward: a stopped vehicle must be able to leave.
        return max(target, 0.5)

    def _move(self, distance: float) -> None:
        self._s_in_seg += distance
        while self._s_in_seg >= self._seg_len[self._seg]:
            if self._seg + 1 >= len(self._seg_len):
                self._arrive()
                return
            self._s_in_seg -= self._seg_len[self._seg]
            self._seg += 1
            if self._goal_node is not None and self._route[-1] != self._goal_node:
                self._turn_towards_goal()
                if self.mode != "drive":
                    return
            if not self.speeding:
                self.speed = min(self.speed, self._seg_limit[self._seg])
        a, b = self._route[self._seg], self._route[self._seg + 1]
        (lat1, lon1), (lat2, lon2) = self.network.nodes[a], self.network.nodes[b]
        frac = self._s_in_seg / self._seg_len[self._seg] if self._seg_len[self._seg] else 1.0
        self.position = (lat1 + (lat2 - lat1) * frac, lon1 + (lon2 - lon1) * frac)
        self.heading = self._seg_bearing[self._seg]

    def _arrive(self) -> None:
        self.node = self._route[-1]
        self.position = self.network.nodes[self.node]
        self.speed = 0.0
        self.mode = "dwell"
        if self.heading_home:
            self.heading_home = False
            self.at_hub = True
            self.deliveries_left = self.rng.randint(5, 14)
            self.dwell_until = self.t + self.rng.uniform(*HUB_DWELL_S)
        else:
            self.deliveries_left -= 1
            self.dwell_until = self.t + self.rng.uniform(*DELIVERY_DWELL_S)

    def _start_trip(self) -> None:
        if self.goal is not None and self._start_trip_to_goal():
            return
        network = self.network
        go_home = self.deliveries_left <= 0 or self.rng.random() < RETURN_TO_HUB_PROBABILITY
        path: list[int] = []
        if go_home and self.node != network.hub_node:
            path = network.shortest_path(self.node, network.hub_node)
        if len(path) < 2:
            go_home = False
            here = network.nodes[self.node]
            for _ in range(20):
                target = self.rng.choice(network.node_ids)
                if haversine_m(*here, *network.nodes[target]) >= MIN_TRIP_M:
                    path = network.shortest_path(self.node, target)
                    if len(path) >= 2:
                        break
        if len(path) < 2:  # a tiny network: stay put a little longer
            self.dwell_until = self.t + self.rng.uniform(*DELIVERY_DWELL_S)
            return
        self._drive(path, go_home=go_home)

    def _turn_towards_goal(self) -> None:
        """At a junction on the way somewhere else: head for the goal from here instead."""
        assert self._goal_node is not None
        here = self._route[self._seg]
        if here == self._goal_node:
            self._route = self._route[: self._seg + 1]
            self.heading_home = False
            self._arrive()
            return
        path = self.network.shortest_path(here, self._goal_node)
        if len(path) >= 2:
            carried = self._s_in_seg
            self._drive(path, go_home=False)
            self._s_in_seg = carried

    def _start_trip_to_goal(self) -> bool:
        """Drive to the junction nearest the goal (the route's next stop); wait there while the
        goal stays put. False when the goal is unreachable: then the vehicle roams as usual."""
        target = self._goal_node
        if target is None:
            return False
        if target == self.node:
            self.dwell_until = self.t + GOAL_WAIT_S
            return True
        path = self.network.shortest_path(self.node, target)
        if len(path) < 2:
            return False
        self._drive(path, go_home=False)
        return True

    def _drive(self, path: list[int], *, go_home: bool) -> None:
        network = self.network
        self.heading_home = go_home
        self.at_hub = False
        self.mode = "drive"
        self._route = path
        self._seg = 0
        self._s_in_seg = 0.0
        nodes = network.nodes
        self._seg_len, self._seg_limit, self._seg_cruise, self._seg_bearing = [], [], [], []
        for a, b in pairwise(path):
            edge = network.adjacency[a][b]
            limit = edge.speed_kmh / 3.6
            self._seg_len.append(max(edge.length_m, 0.1))
            self._seg_limit.append(limit)
            factor = min(1.0, max(0.6, self.habit * self.rng.uniform(0.88, 1.1)))
            self._seg_cruise.append(limit * factor)
            self._seg_bearing.append(bearing_deg(*nodes[a], *nodes[b]))
        self._turn_speed = []
        for k in range(len(self._seg_bearing)):
            if k + 1 >= len(self._seg_bearing):
                self._turn_speed.append(None)
                continue
            angle = abs((self._seg_bearing[k + 1] - self._seg_bearing[k] + 180.0) % 360.0 - 180.0)
            if angle < 25.0:
                self._turn_speed.append(None)
            else:
                # 25 deg: barely slower than cruising; 90 deg and more: walking-pace turn.
                weight = min(1.0, (angle - 25.0) / 65.0)
                cruise = min(self._seg_cruise[k], self._seg_cruise[k + 1])
                self._turn_speed.append(cruise + (TURN_SPEED - cruise) * weight)
        self.heading = self._seg_bearing[0]

    # -- fixes --------------------------------------------------------------------------------

    def _fix(self) -> list[Fix]:
        rates = self.anomalies
        rng = self.rng
        if self.t < self.offline_until:
            return []
        if rates.offline and rng.random() < rates.offline:
            self.offline_until = self.t + rng.uniform(*OFFLINE_S)
            return []
        standing = self.t < self.stopped_until
        speeding_may_start = (
            rates.speeding and self.mode == "drive" and not self.speeding and not standing
        )
        if speeding_may_start and rng.random() < rates.speeding:
            self.speeding_until = self.t + rng.uniform(*SPEEDING_S)
            self.speeding_factor = rng.uniform(*SPEEDING_FACTOR)
        stop_may_start = rates.stops and self.mode == "drive" and not standing and not self.speeding
        if stop_may_start and rng.random() < rates.stops:
            self.stopped_until = self.t + rng.uniform(*STOP_S)
        tags: list[str] = []
        if self.speeding and self.mode == "drive":
            tags.append("speeding")
        if self.t < self.stopped_until and self.mode == "drive":
            tags.append("stopped")
        jump = bool(rates.jumps) and rng.random() < rates.jumps
        duplicate = bool(rates.duplicates) and rng.random() < rates.duplicates
        hold = bool(rates.out_of_order) and not self._held and rng.random() < rates.out_of_order
        if jump:
            tags.append("jump")
        if duplicate:
            tags.append("duplicate")
        if hold:
            tags.append("out_of_order")

        accuracy = rng.uniform(3.0, 15.0)
        lat, lon = offset(
            *self.position,
            rng.uniform(0.0, 360.0),
            min(abs(rng.gauss(0.0, accuracy / 2.5)), accuracy),
        )
        if jump:
            distance = max(
                rng.uniform(*JUMP_M), self.interval * JUMP_MIN_KMH / 3.6 * rng.uniform(1.05, 1.5)
            )
            lat, lon = offset(lat, lon, rng.uniform(0.0, 360.0), distance)
        moving = self.speed > 0.5
        speed = max(0.0, self.speed + rng.uniform(-0.3, 0.3)) if moving else 0.0
        bearing = (self.heading + (rng.uniform(-2.0, 2.0) if moving else 0.0)) % 360.0
        fix = Fix(
            device_id=self.device_id,
            timestamp=math.floor(self.t),
            lat=round(lat, 6),
            lon=round(lon, 6),
            speed_knots=round(speed * KNOTS_PER_MS, 2),
            bearing=round(bearing, 1),
            altitude=round(self.altitude_base + rng.gauss(0.0, 1.5), 1),
            accuracy=round(accuracy, 1),
            battery=round(self.battery, 1),
            speed_limit_kmh=round(self.speed_limit_kmh, 1),
            anomalies=tuple(tags),
        )
        batch = [fix, fix] if duplicate else [fix]
        if hold:
            self._held = batch
            return []
        if self._held:
            batch, self._held = batch + self._held, []
        return batch


@dataclass(frozen=True)
class SimDevice:
    """What the simulation needs to know of a real device: its id and its vehicle's hub."""

    identifier: str
    hub: tuple[float, float]
    # The other hubs of the same organization (their side of the map is theirs).
    neighbours: tuple[tuple[float, float], ...] = ()


class Fleet:
    """All simulated vehicles; `advance(until)` returns every fix due up to `until`."""

    def __init__(self, vehicles: Sequence[SimulatedVehicle]) -> None:
        self.vehicles = list(vehicles)

    def __len__(self) -> int:
        return len(self.vehicles)

    @classmethod
    def from_devices(
        cls,
        devices: Iterable[SimDevice],
        *,
        start_time: float,
        interval: float = 5.0,
        anomalies: Anomalies = NO_ANOMALIES,
        seed: int | str | None = None,
        start_at_hub: bool = False,
    ) -> Fleet:
        base = seed if seed is not None else random.SystemRandom().getrandbits(64)
        vehicles = []
        for device in devices:
            network = build_network(*device.hub, device.neighbours)
            vehicles.append(
                SimulatedVehicle(
                    device.identifier,
                    network,
                    start_time=start_time,
                    rng=random.Random(f"{base}/{device.identifier}"),
                    interval=interval,
                    anomalies=anomalies,
                    start_at_hub=start_at_hub,
                )
            )
        return cls(vehicles)

    def advance(self, until: float) -> list[Fix]:
        fixes: list[Fix] = []
        for vehicle in self.vehicles:
            fixes.extend(vehicle.advance(until))
        return fixes
