"""Scripted vehicles: the demo scenario's vans (demo/scenario.py), each acting out one anomaly
on a fixed timeline that repeats, so the alert it should open is seen within the first minutes
of `make run` and then again every cycle.

The timeline has a *phase* p in seconds: p = 0 is the moment each cycle shows its anomalies
(the first at the start of the run). A cycle runs from p = -PREROLL_S to CYCLE_S - PREROLL_S;
the scripted vehicles start PREROLL_S before the run, so what takes minutes to become an alert
(a tracker silent for 6 minutes, a van standing for 5) has already happened when the run
begins: their first fixes are sent at once, in order, as a tracker uploads what it buffered.

Roles (one vehicle each, two for the GPS jumps):

* ``offline``: the tracker is silent from p = -380 to 50 (the vehicle keeps driving);
* ``speeding``: from p = 20 to 65 the driver does 95 km/h;
* ``jumps``: parked at the hub reporting once a minute (a tracker's power saving); in its
  cycle (two vehicles take turns, so the 30-minute data-quality window of one holds only its
  own burst) the GPS scatters for 40 s on start-up (every fix 1.5-3 km off, refused by
  ingest), then it drives for five minutes and goes home;
* ``stop``: stands still at a spot away from the hub and any stop from p = -370 to 60;
* ``zone``: goes to the edge of its road network from p = -240, and at p = 30 drives straight
  out of its service area (to 250 m beyond it), waits 45 s and comes back;
* ``late``, ``not_started``, ``failed_far``: drive the routes the scenario gives them (their
  goal is the route's next stop, as for any demo vehicle); between routes they wait at the
  hub (``not_started`` roams: its routes are vanless, demo/scenario.py).

Pure Python like the rest of the simulator: the scenario's database side is demo/scenario.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from fleet.geo import haversine_m

from .driver import Fix, SimulatedVehicle
from .roads import RoadNetwork, bearing_deg, offset

CYCLE_S = 1200.0
PREROLL_S = 390.0
OFFLINE = (-380.0, 50.0)
SPEEDING = (20.0, 65.0)
SPEEDING_KMH = 95.0
JUMPS = (30.0, 70.0)
JUMP_M = (1500.0, 3000.0)
JUMP_DRIVE_UNTIL = 400.0
HEARTBEAT_S = 60.0
STAND = (-370.0, 60.0)
ZONE_EXIT_AT = 30.0
ZONE_BEYOND_M = 250.0
ZONE_OUTSIDE_S = 45.0
ZONE_SPEED_MS = 40.0 / 3.6
# The zone van heads for the edge this long before it drives out: long enough to get there from
# nearby, short enough that its waiting is no unplanned stop (5 minutes).
ZONE_WAIT_FROM = -240.0
# Vehicles without a route of the scenario go back to their waiting place from here on.
RETURN_AT = 600.0

# The scenario's vehicles: Northwind's last devices (the demo's own routes take the first
# three vehicles of each hub; demo/orders.py leaves these to the scenario).
SCENARIO_DEVICES: dict[str, str] = {
    "offline": "nw-022",
    "speeding": "nw-023",
    "jumps-0": "nw-024",
    "jumps-1": "nw-025",
    "stop": "nw-026",
    "zone": "nw-027",
    "late": "nw-028",
    "not_started": "nw-029",
    "failed_far": "nw-030",
}


@dataclass(frozen=True)
class Timeline:
    """Cycle number and phase of a simulated time; `start` is the run's start (p = 0 of
    cycle 0)."""

    start: float
    cycle_s: float = CYCLE_S
    preroll_s: float = PREROLL_S

    def phase(self, t: float) -> tuple[int, float]:
        since = t - self.start + self.preroll_s
        cycle = math.floor(since / self.cycle_s)
        return cycle, since - cycle * self.cycle_s - self.preroll_s

    def at(self, cycle: int, p: float) -> float:
        """The simulated time of phase p in a cycle."""
        return self.start + cycle * self.cycle_s + p


def within(p: float, span: tuple[float, float]) -> bool:
    return span[0] <= p < span[1]


def far_node(network: RoadNetwork) -> int:
    """The junction farthest from the hub: the zone role waits there, at the edge."""
    hub = network.nodes[network.hub_node]
    return max(network.node_ids, key=lambda n: haversine_m(*hub, *network.nodes[n]))


def node_at_distance(
    network: RoadNetwork, origin: tuple[float, float], metres: float, rng: random.Random
) -> int:
    """A junction about `metres` from `origin` (the closest match of a few random ones)."""
    candidates = rng.sample(network.node_ids, min(60, len(network.node_ids)))
    return min(candidates, key=lambda n: abs(haversine_m(*origin, *network.nodes[n]) - metres))


class ScriptedVehicle(SimulatedVehicle):
    """A simulated vehicle that plays one scenario role on the timeline (see the module)."""

    def __init__(
        self,
        device_id: str,
        network: RoadNetwork,
        *,
        role: str,
        timeline: Timeline,
        rng: random.Random,
        interval: float = 5.0,
        inside_area: Callable[[float, float], bool] | None = None,
    ) -> None:
        self.role = role.split("-")[0]
        self.parity = int(role.split("-")[1]) if "-" in role else 0
        self.timeline = timeline
        self.inside_area = inside_area or (lambda lat, lon: True)
        super().__init__(
            device_id,
            network,
            start_time=timeline.start - timeline.preroll_s,
            rng=rng,
            interval=interval,
            start_at_hub=self.role in ("jumps", "late", "failed_far"),
        )
        self.route_goal: tuple[float, float] | None = None
        self.last_reported = -math.inf
        # Where the stop and zone roles wait (not_started: where its routes begin).
        self.spot_node = {
            "stop": node_at_distance(network, network.center, 1800.0, rng),
            "zone": far_node(network),
            # Where its (vanless) routes begin; the van itself roams.
            "not_started": node_at_distance(network, network.center, 900.0, rng),
        }.get(self.role)
        if self.spot_node is not None and self.role != "not_started":
            self.node = self.spot_node
            self.position = network.nodes[self.node]
        self._excursion: tuple[int, tuple[float, float], float, float] | None = None
        self.deliveries_left = 10**9  # no trips home between the acts: the script says where
        self._apply_goal()

    # -- goals: the route's next stop, else the role's waiting place ------------------------

    @property
    def goal(self) -> tuple[float, float] | None:
        return self._goal

    @goal.setter
    def goal(self, value: tuple[float, float] | None) -> None:
        # What follow_routes sets (the route's next stop); the script decides what wins.
        self.route_goal = value
        self._apply_goal()

    @property
    def phase(self) -> tuple[int, float]:
        return self.timeline.phase(self.t)

    def _waiting_place(self) -> tuple[float, float] | None:
        cycle, p = self.phase
        network = self.network
        hub = network.nodes[network.hub_node]
        if self.role == "jumps":
            mine = cycle % 2 == self.parity
            driving = mine and JUMPS[1] <= p < JUMP_DRIVE_UNTIL
            return None if driving else hub
        waits = p >= RETURN_AT or p < 0
        if self.role in ("late", "failed_far"):
            return hub if waits else None
        spot = None if self.spot_node is None else network.nodes[self.spot_node]
        if self.role == "stop":
            return spot if p >= RETURN_AT or p < STAND[1] else None
        if self.role == "zone":
            return spot if ZONE_WAIT_FROM <= p < ZONE_EXIT_AT else None
        return None

    def _apply_goal(self) -> None:
        target = self.route_goal or self._waiting_place()
        SimulatedVehicle.goal.fset(self, target)  # type: ignore[attr-defined]

    # -- motion -------------------------------------------------------------------------------

    def _tick(self, dt: float) -> None:
        self._apply_goal()
        cycle, p = self.phase
        if self.role == "stop" and within(p, STAND):
            self.speed = 0.0
            return
        if self.role == "speeding" and within(p, SPEEDING):
            self._sprint(dt)
            return
        if self.role == "zone" and self._zone_excursion(cycle, p):
            return
        super()._tick(dt)

    def _sprint(self, dt: float) -> None:
        if self.mode == "dwell":
            self._start_trip()
            if self.mode == "dwell":
                return
        # Marked as speeding, so junctions do not clamp the speed to the street's limit.
        self.speeding_until = self.t + dt + 1.0
        self.speed = SPEEDING_KMH / 3.6
        self._move(self.speed * dt)
        if self.mode == "dwell":  # the end of a trip: straight on to the next, no slowing down
            self._start_trip()
            self.speed = SPEEDING_KMH / 3.6

    def _zone_excursion(self, cycle: int, p: float) -> bool:
        """Straight out of the service area and back; True while it lasts."""
        if p < ZONE_EXIT_AT:
            return False
        if self._excursion is None or self._excursion[0] != cycle:
            if p > ZONE_EXIT_AT + 60:  # the run started after this cycle's excursion
                return False
            start = self.position
            hub = self.network.nodes[self.network.hub_node]
            heading = bearing_deg(*hub, *start)
            out = self._exit_distance(start, heading) + ZONE_BEYOND_M
            self._excursion = (cycle, start, heading, out)
        _, start, heading, out = self._excursion
        if out < 0:  # done for this cycle
            return False
        elapsed = p - ZONE_EXIT_AT
        drive = out / ZONE_SPEED_MS
        if elapsed >= 2 * drive + ZONE_OUTSIDE_S:
            # Back where it left the road: carry on from there.
            self.position, self.speed = start, 0.0
            self._excursion = (cycle, start, heading, -1.0)
            return False
        if elapsed < drive:
            distance, self.speed, self.heading = elapsed * ZONE_SPEED_MS, ZONE_SPEED_MS, heading
        elif elapsed < drive + ZONE_OUTSIDE_S:
            distance, self.speed = out, 0.0
        else:
            distance = max(0.0, out - (elapsed - drive - ZONE_OUTSIDE_S) * ZONE_SPEED_MS)
            self.speed, self.heading = ZONE_SPEED_MS, (heading + 180.0) % 360.0
        self.position = offset(*start, heading, distance)
        return True

    def _exit_distance(self, start: tuple[float, float], heading: float) -> float:
        distance = 0.0
        while distance < 10_000 and self.inside_area(*offset(*start, heading, distance)):
            distance += 25.0
        return distance

    # -- the tracker --------------------------------------------------------------------------

    def _fix(self) -> list[Fix]:
        fixes = super()._fix()
        cycle, p = self.phase
        if self.role == "offline" and within(p, OFFLINE):
            return []
        if self.role != "jumps":
            return fixes
        if cycle % 2 == self.parity and within(p, JUMPS):
            distance = self.rng.uniform(*JUMP_M)
            return [self._jumped(fix, distance) for fix in fixes]
        parked = self.speed == 0.0 and self.node == self.network.hub_node
        if parked and self.t - self.last_reported < HEARTBEAT_S:
            return []
        if fixes:
            self.last_reported = self.t
        return fixes

    def _jumped(self, fix: Fix, distance: float) -> Fix:
        lat, lon = offset(fix.lat, fix.lon, self.rng.uniform(0.0, 360.0), distance)
        return replace(fix, lat=round(lat, 6), lon=round(lon, 6), anomalies=("jump",))
