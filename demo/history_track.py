"""A demo vehicle's past shift on its hub's road network, as plain values (pure, seeded): the
fixes every 30 s, the visits with their arrival and departure, and the speeding episodes.

The van leaves the hub after loading, drives the fastest path to each stop at 40-70 % of the
road's limit (city traffic), parks at the door (ignition off, a few metres of GPS wander; now and then with the engine
running: idle time), and drives back.
Now and then one leg is driven too fast: that is a speeding episode the seed turns into an
alert, the same shape the streaming rule would have opened."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import pairwise

from fleet.geo import haversine_m

from .simulator.roads import RoadNetwork, bearing_deg

FIX_EVERY_S = 30
LOADING_S = (300, 900)
SERVICE_S = (180, 600)
BREAK_S = (1800, 2700)  # the lunch break, after half the stops
ENGINE_ON_CHANCE = 0.15  # per visit: parked with the engine running
SPEEDING_CHANCE = 0.18  # per shift: one leg driven too fast
SPEEDING_KMH = (72.0, 98.0)
M_PER_DEG_LAT = 110_574.0


@dataclass(frozen=True)
class Visit:
    node: int
    latitude: float
    longitude: float
    arrived: float
    departed: float


@dataclass(frozen=True)
class SpeedingEpisode:
    start: float
    end: float
    peak_kmh: float
    latitude: float
    longitude: float


@dataclass
class Shift:
    """Fixes as tuples (epoch, lat, lon, speed km/h, heading, ignition)."""

    fixes: list[tuple[float, float, float, float, float, bool]] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    speeding: list[SpeedingEpisode] = field(default_factory=list)
    end: float = 0.0


class ShiftWriter:
    """Emits a fix at every multiple of FIX_EVERY_S while the van drives or stands."""

    def __init__(self, start: float, rng: random.Random) -> None:
        self.shift = Shift()
        self.clock = start
        self.next_fix = math.ceil(start / FIX_EVERY_S) * FIX_EVERY_S
        self.rng = rng

    def park(self, lat: float, lon: float, seconds: float, *, engine_on: bool = False) -> None:
        end = self.clock + seconds
        while self.next_fix < end:
            wander = self.rng.uniform(-4, 4) / M_PER_DEG_LAT
            self.shift.fixes.append(
                (self.next_fix, lat + wander, lon + wander * 1.4, 0.0, 0.0, engine_on)
            )
            self.next_fix += FIX_EVERY_S
        self.clock = end

    def drive(self, a: tuple[float, float], b: tuple[float, float], speed_kmh: float) -> None:
        length = haversine_m(*a, *b)
        if length < 0.5:
            return
        seconds = length / (speed_kmh / 3.6)
        end = self.clock + seconds
        heading = bearing_deg(*a, *b)
        while self.next_fix < end:
            k = (self.next_fix - self.clock) / seconds
            noisy = max(speed_kmh + self.rng.uniform(-3, 3), 1.0)
            self.shift.fixes.append(
                (self.next_fix, a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k,
                 round(noisy, 1), round(heading, 1), True)
            )  # fmt: skip
            self.next_fix += FIX_EVERY_S
        self.clock = end


def _leg(
    writer: ShiftWriter, network: RoadNetwork, path: list[int], *, too_fast: float | None
) -> None:
    for a, b in pairwise(path):
        edge = network.edge(a, b)
        speed = too_fast or edge.speed_kmh * writer.rng.uniform(0.4, 0.7)
        writer.drive(network.nodes[a], network.nodes[b], speed)


def stops_order(network: RoadNetwork, nodes: list[int]) -> list[int]:
    """Nearest-neighbour tour from the hub: a plausible plan without a solver."""
    left, tour, here = list(nodes), [], network.nodes[network.hub_node]
    while left:
        nearest = min(left, key=lambda n: haversine_m(*here, *network.nodes[n]))
        left.remove(nearest)
        tour.append(nearest)
        here = network.nodes[nearest]
    return tour


def shift_build(network: RoadNetwork, rng: random.Random, *, start: float, stops: int) -> Shift:
    writer = ShiftWriter(start, rng)
    hub = network.hub_node
    writer.park(*network.nodes[hub], rng.uniform(*LOADING_S))
    candidates = [n for n in network.node_ids if n != hub]
    tour = stops_order(network, rng.sample(candidates, min(stops, len(candidates))))
    legs = [network.shortest_path_kept(a, b) for a, b in pairwise([hub, *tour, hub])]
    # The longest leg, when one is driven too fast: long enough for the rule's 15 s.
    fast_leg = (
        max(range(len(legs)), key=lambda i: network.path_length_m(legs[i]))
        if rng.random() < SPEEDING_CHANCE
        else None
    )
    for index, (node, path) in enumerate(zip([*tour, hub], legs, strict=True)):
        too_fast = rng.uniform(*SPEEDING_KMH) if index == fast_leg else None
        leg_start, fixes_before = writer.clock, len(writer.shift.fixes)
        _leg(writer, network, path, too_fast=too_fast)
        if too_fast is not None and len(writer.shift.fixes) - fixes_before >= 2:
            middle = writer.shift.fixes[(fixes_before + len(writer.shift.fixes)) // 2]
            writer.shift.speeding.append(
                SpeedingEpisode(leg_start, writer.clock, too_fast, middle[1], middle[2])
            )
        if node == hub:
            break
        arrived = writer.clock
        # Now and then the engine keeps running at the door (double parking, the heater):
        # the idle time, and its cost, on the manager's dashboard.
        engine_on = rng.random() < ENGINE_ON_CHANCE
        writer.park(*network.nodes[node], rng.uniform(*SERVICE_S), engine_on=engine_on)
        writer.shift.visits.append(Visit(node, *network.nodes[node], arrived, writer.clock))
        if index == len(tour) // 2:
            writer.park(*network.nodes[node], rng.uniform(*BREAK_S))
    writer.park(*network.nodes[hub], 600)
    writer.shift.end = writer.clock
    return writer.shift
