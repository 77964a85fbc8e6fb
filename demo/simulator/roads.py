"""A synthetic street network around each hub, for the demo fleet simulation and the map's light
road layer.

No real map data ships with Doorstep (and none can be fetched at run time), so each hub gets a
plausible, *deterministic* network generated from its coordinates alone:

* a ~6 x 6 km grid of local streets (30 km/h) with irregular ~250 m blocks, nodes jittered,
  gently warped and rotated so it does not look like graph paper, ~10 % of street segments
  removed (merged blocks) while the network stays connected, and the corners trimmed;
* arterials (50 km/h): two avenues in each direction and two or three radial diagonals out of the
  centre;
* an octagonal ring road (60 km/h) about 2 km out.

Diagonals run through grid cells from corner to corner, so every crossing is a real junction (the
graph is planar). When a hub's neighbours are given (the other hubs of the same organization),
each hub keeps only the part of its grid that is closer to it than to any neighbour, so two
nearby hubs do not draw two overlapping grids.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

import shapely
from shapely.geometry import LineString, MultiLineString, Polygon

from fleet.geo import haversine_m

M_PER_DEG_LAT = 111_320.0
# A hub's service area is its road network's extent plus this much: normal driving (with GPS
# noise of up to 15 m and the geofence rule's 30 m buffer) never leaves it.
SERVICE_AREA_BUFFER_M = 300.0

STREET_KMH = 30.0
ARTERIAL_KMH = 50.0
RING_KMH = 60.0

HALF_SIZE_M = 3000.0
BLOCK_M = 250.0
# Hubs farther apart than this cannot clip each other's network: leave them out of the cache key.
_NEIGHBOUR_RANGE_FACTOR = 4.0


# -- geometry helpers --------------------------------------------------------------------------


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


def offset(lat: float, lon: float, bearing: float, distance_m: float) -> tuple[float, float]:
    """The point `distance_m` away from (lat, lon) towards `bearing` (flat-earth, fine < 50 km)."""
    b = math.radians(bearing)
    dlat = distance_m * math.cos(b) / M_PER_DEG_LAT
    dlon = distance_m * math.sin(b) / (M_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def hub_coordinates(hub: Any) -> tuple[float, float]:
    """(lat, lon) of a hub given as a (lat, lon) pair, a mapping or an object with
    .latitude/.longitude."""
    if hasattr(hub, "latitude") and hasattr(hub, "longitude"):
        return float(hub.latitude), float(hub.longitude)
    if isinstance(hub, dict):
        if "latitude" in hub:
            return float(hub["latitude"]), float(hub["longitude"])
        return float(hub["lat"]), float(hub["lon"])
    lat, lon = hub
    return float(lat), float(lon)


# -- the graph ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    a: int
    b: int
    length_m: float
    speed_kmh: float
    kind: str  # "arterial" | "street"
    way: int  # index into RoadNetwork.ways

    @property
    def travel_s(self) -> float:
        return self.length_m / (self.speed_kmh / 3.6)


@dataclass(frozen=True)
class Way:
    """A named-road-like chain of nodes (a grid row, the ring, a radial...). Some of its
    consecutive pairs may be absent from the network (removed or clipped): it is then drawn as
    several LineStrings."""

    kind: str
    role: str  # "street" | "avenue" | "radial" | "ring"
    speed_kmh: float
    nodes: tuple[int, ...]


def _path_back(previous: dict[int, int], source: int, target: int) -> list[int]:
    """The path to `target` by following a search's predecessors back to `source`."""
    if target not in previous:
        return []
    path = [target]
    while path[-1] != source:
        path.append(previous[path[-1]])
    path.reverse()
    return path


class RoadNetwork:
    """Undirected road graph of one hub: nodes are (lat, lon), edges carry length and limit."""

    def __init__(
        self,
        center: tuple[float, float],
        nodes: dict[int, tuple[float, float]],
        edges: Iterable[Edge],
        ways: Sequence[Way],
    ) -> None:
        self.center = center
        self.nodes = nodes
        self.ways = tuple(ways)
        self.adjacency: dict[int, dict[int, Edge]] = {n: {} for n in nodes}
        for edge in edges:
            self.adjacency[edge.a][edge.b] = edge
            self.adjacency[edge.b][edge.a] = edge
        self.node_ids = tuple(sorted(nodes))
        self._trees: dict[int, dict[int, int]] = {}  # shortest_path_kept's searches
        self._costs: dict[int, list[tuple[int, float]]] | None = None
        self.hub_node = self.nearest_node(*center)

    def __repr__(self) -> str:
        return (
            f"<RoadNetwork {self.center[0]:.4f},{self.center[1]:.4f}: "
            f"{len(self.nodes)} nodes, {self.edge_count} edges>"
        )

    @property
    def edge_count(self) -> int:
        return sum(len(n) for n in self.adjacency.values()) // 2

    def edges(self) -> Iterator[Edge]:
        for a, neighbours in self.adjacency.items():
            for b, edge in neighbours.items():
                if a < b:
                    yield edge

    def edge(self, a: int, b: int) -> Edge:
        return self.adjacency[a][b]

    def nearest_node(self, lat: float, lon: float) -> int:
        return min(self.nodes, key=lambda n: haversine_m(lat, lon, *self.nodes[n]))

    def is_connected(self) -> bool:
        return len(_component(self.adjacency, self.node_ids[0])) == len(self.nodes)

    def shortest_path(self, source: int, target: int) -> list[int]:
        """Fastest path (by length / speed limit) as a list of node ids, source and target
        included; [] if unreachable."""
        if source == target:
            return [source]
        best = {source: 0.0}
        previous: dict[int, int] = {}
        queue = [(0.0, source)]
        while queue:
            cost, node = heapq.heappop(queue)
            if node == target:
                break
            if cost > best[node]:
                continue
            for other, edge in self.adjacency[node].items():
                new_cost = cost + edge.travel_s
                if new_cost < best.get(other, math.inf):
                    best[other] = new_cost
                    previous[other] = node
                    heapq.heappush(queue, (new_cost, other))
        return _path_back(previous, source, target)

    def shortest_path_kept(self, source: int, target: int) -> list[int]:
        """`shortest_path`'s answer, from one full search per source that is kept: for callers
        that ask for thousands of paths on the same network (the demo's weeks of history).
        The same path: the search pops nodes in the same order and, with no negative costs,
        a node's predecessor never changes once it has been popped."""
        if source == target:
            return [source]
        previous = self._trees.get(source)
        if previous is None:
            previous = self._trees[source] = self._search(source)
        return _path_back(previous, source, target)

    def _search(self, source: int) -> dict[int, int]:
        if self._costs is None:  # travel times read once: the property is the search's cost
            self._costs = {
                node: [(other, edge.travel_s) for other, edge in edges.items()]
                for node, edges in self.adjacency.items()
            }
        costs = self._costs
        best = {source: 0.0}
        previous: dict[int, int] = {}
        queue = [(0.0, source)]
        while queue:
            cost, node = heapq.heappop(queue)
            if cost > best[node]:
                continue
            for other, travel_s in costs[node]:
                new_cost = cost + travel_s
                if new_cost < best.get(other, math.inf):
                    best[other] = new_cost
                    previous[other] = node
                    heapq.heappush(queue, (new_cost, other))
        return previous

    def path_length_m(self, path: Sequence[int]) -> float:
        return sum(self.adjacency[a][b].length_m for a, b in pairwise(path))

    def linestrings(self) -> Iterator[tuple[Way, list[list[float]]]]:
        """Each way's runs of consecutive present edges, as GeoJSON [lon, lat] coordinates."""
        for index, way in enumerate(self.ways):
            run: list[int] = []
            for a, b in pairwise(way.nodes):
                edge = self.adjacency.get(a, {}).get(b)
                if edge is not None and edge.way == index:
                    if not run:
                        run.append(a)
                    run.append(b)
                    continue
                if len(run) >= 2:
                    yield way, self._coordinates(run)
                run = []
            if len(run) >= 2:
                yield way, self._coordinates(run)

    def _coordinates(self, run: Sequence[int]) -> list[list[float]]:
        return [[round(self.nodes[n][1], 5), round(self.nodes[n][0], 5)] for n in run]


def _component(adjacency: dict[int, Any], start: int) -> set[int]:
    seen = {start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for other in adjacency[node]:
            if other not in seen:
                seen.add(other)
                queue.append(other)
    return seen


# -- generation --------------------------------------------------------------------------------


def build_network(
    latitude: float,
    longitude: float,
    neighbours: Iterable[tuple[float, float]] = (),
    *,
    half_size_m: float = HALF_SIZE_M,
    block_m: float = BLOCK_M,
) -> RoadNetwork:
    """The road network around a hub at (latitude, longitude); the same arguments always give the
    same network. `neighbours`: other hubs' (lat, lon) whose side of the bisector is left to them.
    """
    lat, lon = round(float(latitude), 6), round(float(longitude), 6)
    keep: set[tuple[float, float]] = set()
    for n_lat, n_lon in neighbours:
        key = (round(float(n_lat), 6), round(float(n_lon), 6))
        near = haversine_m(lat, lon, *key) < _NEIGHBOUR_RANGE_FACTOR * half_size_m
        if key != (lat, lon) and near:
            keep.add(key)
    return _build_cached(lat, lon, tuple(sorted(keep)), float(half_size_m), float(block_m))


def network_for_hub(hub: Any, neighbours: Iterable[Any] = ()) -> RoadNetwork:
    """build_network for hub-like values ((lat, lon) pairs or objects with .latitude/.longitude)."""
    return build_network(*hub_coordinates(hub), [hub_coordinates(n) for n in neighbours])


@lru_cache(maxsize=64)
def _build_cached(
    lat: float,
    lon: float,
    neighbours: tuple[tuple[float, float], ...],
    half_size_m: float,
    block_m: float,
) -> RoadNetwork:
    rng = random.Random(f"doorstep-roads/v1/{lat:.6f},{lon:.6f}/{half_size_m:g}/{block_m:g}")
    cells = max(6, round(2 * half_size_m / block_m))
    c = cells // 2

    def node_id(i: int, j: int) -> int:
        return i * (cells + 1) + j

    def axis() -> list[float]:
        widths = [rng.uniform(0.75, 1.3) for _ in range(cells)]
        scale = 2 * half_size_m / sum(widths)
        positions = [0.0]
        for width in widths:
            positions.append(positions[-1] + width * scale)
        shift = positions[c]  # the hub sits on the central junction
        return [p - shift for p in positions]

    xs, ys = axis(), axis()
    theta = math.radians(rng.uniform(-28.0, 28.0))
    amplitude = rng.uniform(20.0, 45.0)
    wavelength = rng.uniform(1200.0, 2200.0)
    phase_x, phase_y = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    jitter = 0.12 * block_m
    local: dict[int, tuple[float, float]] = {}
    for i in range(cells + 1):
        for j in range(cells + 1):
            x = xs[i] + rng.uniform(-jitter, jitter)
            y = ys[j] + rng.uniform(-jitter, jitter)
            x += amplitude * math.sin(2 * math.pi * y / wavelength + phase_x)
            y += amplitude * math.sin(2 * math.pi * x / wavelength + phase_y)
            local[node_id(i, j)] = (
                x * math.cos(theta) - y * math.sin(theta),
                x * math.sin(theta) + y * math.cos(theta),
            )

    # Ways in priority order: an edge belongs to the first way that claims it.
    specs: list[tuple[str, str, float, list[tuple[int, int]]]] = []
    ring_r = max(3, round(cells / 3))
    ring_a = 2 + (ring_r - 2) % 2  # ring_r - ring_a even: radials cross the ring at junctions
    corners = [
        (c - ring_a, c + ring_r, 1, 0),
        (c + ring_a, c + ring_r, 1, -1),
        (c + ring_r, c + ring_a, 0, -1),
        (c + ring_r, c - ring_a, -1, -1),
        (c + ring_a, c - ring_r, -1, 0),
        (c - ring_a, c - ring_r, -1, 1),
        (c - ring_r, c - ring_a, 0, 1),
        (c - ring_r, c + ring_a, 1, 1),
    ]
    ring: list[tuple[int, int]] = []
    for k, (i, j, di, dj) in enumerate(corners):
        ni, nj = corners[(k + 1) % len(corners)][:2]
        steps = max(abs(ni - i), abs(nj - j))
        ring.extend((i + di * s, j + dj * s) for s in range(steps))
    ring.append(ring[0])
    specs.append(("arterial", "ring", RING_KMH, ring))

    directions = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    for di, dj in sorted(rng.sample(directions, rng.randint(2, 3))):
        specs.append(
            ("arterial", "radial", ARTERIAL_KMH, [(c + di * s, c + dj * s) for s in range(c + 1)])
        )

    def avenue_offsets() -> set[int]:
        near = c + rng.choice((-1, 1)) * rng.randint(1, 3)
        far = c + rng.choice((-1, 1)) * rng.choice((5, 6, 7, 9, 10))
        return {min(cells, max(0, near)), min(cells, max(0, far))}

    avenue_rows, avenue_cols = avenue_offsets(), avenue_offsets()
    for j in sorted(avenue_rows):
        specs.append(("arterial", "avenue", ARTERIAL_KMH, [(i, j) for i in range(cells + 1)]))
    for i in sorted(avenue_cols):
        specs.append(("arterial", "avenue", ARTERIAL_KMH, [(i, j) for j in range(cells + 1)]))
    for j in range(cells + 1):
        if j not in avenue_rows:
            specs.append(("street", "street", STREET_KMH, [(i, j) for i in range(cells + 1)]))
    for i in range(cells + 1):
        if i not in avenue_cols:
            specs.append(("street", "street", STREET_KMH, [(i, j) for j in range(cells + 1)]))

    ways: list[Way] = []
    owner: dict[tuple[int, int], int] = {}
    for kind, role, speed, cells_path in specs:
        ids = tuple(node_id(i, j) for i, j in cells_path)
        index = len(ways)
        ways.append(Way(kind, role, speed, ids))
        for a, b in pairwise(ids):
            owner.setdefault((min(a, b), max(a, b)), index)

    adjacency: dict[int, set[int]] = {n: set() for n in local}
    for a, b in owner:
        adjacency[a].add(b)
        adjacency[b].add(a)

    # Merge ~10 % of blocks: drop street segments that leave no dead end and no island.
    streets = sorted(pair for pair, index in owner.items() if ways[index].kind == "street")
    rng.shuffle(streets)
    to_remove = len(streets) // 10
    for a, b in streets:
        if to_remove == 0:
            break
        if len(adjacency[a]) <= 2 or len(adjacency[b]) <= 2:
            continue
        adjacency[a].discard(b)
        adjacency[b].discard(a)
        if b in _component(adjacency, a):
            del owner[(a, b)]
            to_remove -= 1
        else:
            adjacency[a].add(b)
            adjacency[b].add(a)

    # Trim the square's corners along a wobbly outline, and leave neighbours their side.
    cos_lat = math.cos(math.radians(lat))
    neighbour_xy = [
        ((n_lon - lon) * M_PER_DEG_LAT * cos_lat, (n_lat - lat) * M_PER_DEG_LAT)
        for n_lat, n_lon in neighbours
    ]
    p3, p5 = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)

    def kept(x: float, y: float) -> bool:
        phi = math.atan2(y, x)
        rho = math.hypot(x, y)
        outline = half_size_m * (
            1.18 + 0.08 * math.sin(3 * phi + p3) + 0.05 * math.sin(5 * phi + p5)
        )
        if rho > outline:
            return False
        return all(rho <= math.hypot(x - nx, y - ny) for nx, ny in neighbour_xy)

    alive = {n for n, (x, y) in local.items() if kept(x, y)}
    pruned = {n: {m for m in adjacency[n] if m in alive} for n in alive}
    start = min(alive, key=lambda n: math.hypot(*local[n]))
    alive = _component(pruned, start)

    nodes = {
        n: (lat + y / M_PER_DEG_LAT, lon + x / (M_PER_DEG_LAT * cos_lat))
        for n, (x, y) in local.items()
        if n in alive
    }
    edges = []
    for (a, b), index in owner.items():
        if a in alive and b in alive:
            way = ways[index]
            length = haversine_m(*nodes[a], *nodes[b])
            edges.append(Edge(a, b, length, way.speed_kmh, way.kind, index))
    return RoadNetwork((lat, lon), nodes, edges, ways)


def service_area_geojson(
    network: RoadNetwork, buffer_m: float = SERVICE_AREA_BUFFER_M
) -> dict[str, Any]:
    """The area this network's vehicles drive in, as a GeoJSON Polygon: every road buffered by
    `buffer_m` (in a local metric projection around the hub), holes filled, simplified to ~20 m."""
    lat0, lon0 = network.center
    m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(lat0))

    def local(node: int) -> tuple[float, float]:
        lat, lon = network.nodes[node]
        return (lon - lon0) * m_per_deg_lon, (lat - lat0) * M_PER_DEG_LAT

    roads = MultiLineString([LineString([local(e.a), local(e.b)]) for e in network.edges()])
    area = shapely.buffer(roads, buffer_m, quad_segs=4)
    # The network is connected, so its buffer is one polygon; keep the largest to be safe.
    polygons = list(getattr(area, "geoms", [area]))
    outline = Polygon(max(polygons, key=lambda polygon: polygon.area).exterior).simplify(20.0)
    ring = [
        [round(lon0 + x / m_per_deg_lon, 6), round(lat0 + y / M_PER_DEG_LAT, 6)]
        for x, y in outline.exterior.coords
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def roads_geojson(hubs: Iterable[Any]) -> dict[str, Any]:
    """The road networks of these hubs as a GeoJSON FeatureCollection of LineStrings with
    properties `kind` ("arterial" or "street") and `speed_kmh`. Hubs: (lat, lon) pairs or objects
    with .latitude/.longitude; each hub's grid is clipped against the others in the list."""
    centers = list(dict.fromkeys(hub_coordinates(h) for h in hubs))
    features: list[dict[str, Any]] = []
    for center in centers:
        network = build_network(*center, [c for c in centers if c != center])
        for way, coordinates in network.linestrings():
            features.append(
                {
                    "type": "Feature",
                    "properties": {"kind": way.kind, "speed_kmh": way.speed_kmh},
                    "geometry": {"type": "LineString", "coordinates": coordinates},
                }
            )
    # Arterials last, so a renderer that draws in order puts them on top.
    features.sort(key=lambda f: f["properties"]["kind"] == "arterial")
    return {"type": "FeatureCollection", "features": features}
