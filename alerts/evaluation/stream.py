"""Streaming evaluation of one vehicle's new fixes, in fix order, as a pure function: the
rules (compiled once per task), the vehicle's context (its hub, tags, route corridor and
planned places), the stored state, and the fixes in; the new state and the transitions
(open / update / resolve) out. The runner (streaming.py) turns transitions into alerts.

Features of a fix (derived speed, containing zones, distance to planned places and to the
route corridor) are computed once per fix and only when some rule asks, so a hundred rules
cost a hundred cheap comparisons per fix, not a hundred geometry queries."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import shapely
from shapely import Point

from fleet.geo import haversine_m

from .episode import Action, EpisodeState, episode_blocked, episode_opened, episode_step
from .geometry import LocalProjection, Places, ZoneIndex, corridor_distance_m


@dataclass(slots=True)
class Fix:
    t: float  # fix time, epoch seconds
    lat: float
    lon: float
    speed: float | None = None  # km/h as the device reported it
    battery: float | None = None
    ignition: bool | None = None


@dataclass
class OrgGeometry:
    projection: LocalProjection
    zones: ZoneIndex
    zone_hubs: dict[int, int | None] = field(default_factory=dict)
    zone_names: dict[int, str] = field(default_factory=dict)


@dataclass
class VehicleContext:
    vehicle_id: int
    label: str = ""
    hub_id: int | None = None
    tags: frozenset[str] = frozenset()
    route_id: int | None = None
    places: Places | None = None  # hubs and route stops: where standing still is planned
    corridor: Any = None  # LineString / Point of the planned remaining route, or None


@dataclass
class Transition:
    action: Action  # OPEN is reported as TRY_OPEN that the gate let through
    rule_id: int
    at: float
    since: float
    lat: float
    lon: float
    peak: float | None
    details: dict[str, Any]


# A condition: None = the fix says nothing about it (keep the episode as it is);
# False = does not hold; (value, details) = holds, with the value whose peak is tracked.
Holding = tuple[float | None, dict[str, Any] | None]
Condition = Callable[["StreamRule", Fix, "Features", bool], Holding | bool | None]
# The gate: None when an episode of this rule may open at t, else the epoch second to retry at.
Gate = Callable[["StreamRule", int, float], float | None]


@dataclass
class StreamRule:
    id: int
    kind: str
    params: Any
    hold_seconds: float
    condition: Condition
    peak_is_max: bool = True
    # Geofence kinds: the zones watched (per vehicle hub when taken from zone kinds).
    watched_zone_ids: frozenset[int] | None = None
    watched_zone_kinds: frozenset[str] = frozenset()
    # Other kinds scoped to zones: only inside these zones.
    zone_filter: frozenset[int] | None = None
    fast_limit: float = math.inf  # speeding: the lowest limit any zone of this rule sets
    key: str = ""  # str(id): the state's key, computed once
    watched_by_hub: dict[int | None, frozenset[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key = str(self.id)


class Features:
    """What the conditions ask about one fix, computed on first use."""

    __slots__ = (
        "_corridor", "_place", "_point", "_zones", "ctx", "fix", "geometry", "speed", "x", "y",
    )  # fmt: skip

    def __init__(
        self, fix: Fix, previous: Sequence[float] | None, geometry: OrgGeometry, ctx: VehicleContext,
        *, xy: tuple[float, float] | None = None, point: Point | None = None,
        zones: frozenset[int] | None = None, corridor: float | None = None,
    ) -> None:  # fmt: skip
        # xy, point, zones, corridor: when the caller computed them for all the fixes at once.
        self.fix, self.geometry, self.ctx = fix, geometry, ctx
        self.x, self.y = xy if xy is not None else geometry.projection.xy(fix.lat, fix.lon)
        self.speed = fix.speed if fix.speed is not None else _derived_speed(fix, previous)
        self._zones = zones
        self._place: float | None = None
        self._corridor = corridor
        self._point = point

    @property
    def point(self) -> Point:
        """One shapely point per fix, shared by every geometry question about it."""
        if self._point is None:
            self._point = Point(self.x, self.y)
        return self._point

    @property
    def zones(self) -> frozenset[int]:
        if self._zones is None:
            self._zones = self.geometry.zones.containing(self.point)
        return self._zones

    @property
    def nearest_place_m(self) -> float:
        if self._place is None:
            places = self.ctx.places
            self._place = places.nearest_m(self.x, self.y) if places is not None else math.inf
        return self._place

    @property
    def corridor_m(self) -> float | None:
        if self.ctx.corridor is None:
            return None
        if self._corridor is None:
            self._corridor = corridor_distance_m(self.ctx.corridor, self.point)
        return self._corridor


def _derived_speed(fix: Fix, previous: Sequence[float] | None) -> float:
    """The server decides: without a reported speed, distance over time since the last fix."""
    if not previous:
        return 0.0
    seconds = fix.t - previous[0]
    if seconds <= 0:
        return 0.0
    return haversine_m(previous[1], previous[2], fix.lat, fix.lon) / seconds * 3.6


LAST_FIX_KEY = "_last"


def vehicle_evaluate(
    *,
    rules: Sequence[StreamRule],
    ctx: VehicleContext,
    geometry: OrgGeometry,
    state: dict[str, Any],
    fixes: Sequence[Fix],
    gate: Gate,
    emit: Callable[[Transition], None] | None = None,
    groups_cache: GroupsCache | None = None,
) -> tuple[dict[str, Any], list[Transition]]:
    """Evaluate `fixes` (in fix order, all newer than the state's cursor) against `rules`.
    `emit` sees each transition as it happens, so that a gate asked later in the same batch
    (cooldown) knows of an episode that ended earlier in it. `groups_cache` (one per batch)
    shares the rule groups between vehicles with the same rules where they do not depend on
    the vehicle (no geofence or route-deviation rule among them)."""
    episodes: dict[str, EpisodeState] = {k: v for k, v in state.items() if k != LAST_FIX_KEY}
    previous = state.get(LAST_FIX_KEY)
    transitions: list[Transition] = []
    groups = _groups_for(rules, ctx, geometry, groups_cache)
    position = {rule.key: n for n, rule in enumerate(rules)}
    for features in _features_all(fixes, previous, geometry, ctx, rules):
        fix = features.fix
        todo: list[StreamRule] = []
        contributing = 0
        for group in groups:
            if group.quiet(features):
                # Every rule of the group without an episode says False or None: only the
                # ones with an episode can change anything.
                if not episodes or group.keys.isdisjoint(episodes):
                    continue
                todo += [r for r in group.rules if r.key in episodes]
            else:
                todo += group.rules
            contributing += 1
        if contributing > 1:
            todo.sort(key=lambda r: position[r.key])  # the rules' order, as without groups
        for rule in todo:
            key = rule.key
            episode = episodes.get(key)
            active = episode is not None
            if rule.zone_filter is not None and not (features.zones & rule.zone_filter):
                result: Holding | bool | None = False
            else:
                result = rule.condition(rule, fix, features, active)
            if result is None or (result is False and not active):
                continue
            if result is False:
                step = episode_step(episode, at=fix.t, holds=False, hold_seconds=rule.hold_seconds)
            else:
                value, details = result  # type: ignore[misc]
                step = episode_step(
                    episode, at=fix.t, holds=True, value=value, details=details,
                    hold_seconds=rule.hold_seconds, peak_is_max=rule.peak_is_max,
                )  # fmt: skip
            new_state = step.state
            happened = None
            if step.action is Action.TRY_OPEN and new_state is not None:
                retry = gate(rule, ctx.vehicle_id, fix.t)
                if retry is None:
                    new_state = episode_opened(new_state)
                    happened = _transition(step.action, rule, fix, new_state)
                else:
                    new_state = episode_blocked(new_state, retry)
            elif step.action is Action.UPDATE and new_state is not None:
                happened = _transition(step.action, rule, fix, new_state)
            elif step.action is Action.RESOLVE and step.ended is not None:
                happened = _transition(step.action, rule, fix, step.ended)
            if happened is not None:
                transitions.append(happened)
                if emit is not None:
                    emit(happened)
            if new_state is None:
                episodes.pop(key, None)
            else:
                episodes[key] = new_state
        previous = (fix.t, fix.lat, fix.lon)
    live_keys = {rule.key for rule in rules}
    # Episodes of rules that no longer apply are dropped (their open alerts: the sweep).
    kept: dict[str, Any] = {k: v for k, v in episodes.items() if k in live_keys}
    if previous is not None:
        kept[LAST_FIX_KEY] = list(previous)
    return kept, transitions


def _transition(action: Action, rule: StreamRule, fix: Fix, state: EpisodeState) -> Transition:
    return Transition(
        action=action, rule_id=rule.id, at=fix.t, since=state["s"], lat=fix.lat, lon=fix.lon,
        peak=state.get("p"), details=dict(state.get("d") or {}),
    )  # fmt: skip


# --- Conditions, one per streamed kind ------------------------------------------------------


def speeding_holds(rule: StreamRule, fix: Fix, f: Features, active: bool) -> Holding | bool | None:
    p = rule.params
    speed = f.speed
    if not active and speed <= rule.fast_limit:
        return False  # under every limit this rule could apply: no zone lookup needed
    limit = p.limit_kmh
    if p.use_zone_limit and p.zone_limits:
        for zone_id in f.zones:
            zone_limit = p.zone_limits.get(str(zone_id))
            if zone_limit is not None and zone_limit < limit:
                limit = zone_limit
    threshold = limit - p.hysteresis_kmh if active else limit
    if speed > threshold:
        return speed, {"limit_kmh": limit}
    return False


def battery_low_holds(
    rule: StreamRule, fix: Fix, f: Features, active: bool
) -> Holding | bool | None:
    if fix.battery is None:
        return None
    p = rule.params
    threshold = p.below_pct + p.hysteresis_pct if active else p.below_pct
    if (fix.battery < threshold) if active else (fix.battery <= threshold):
        return fix.battery, None
    return False


def _standing_threshold(below_kmh: float, active: bool) -> float:
    # Hysteresis: once standing, GPS jitter of a few km/h does not end the episode.
    return max(below_kmh * 2, below_kmh + 3) if active else below_kmh


def idle_holds(rule: StreamRule, fix: Fix, f: Features, active: bool) -> Holding | bool | None:
    p = rule.params
    if fix.ignition is False:
        return False  # engine off: parked, not idling
    if f.speed >= _standing_threshold(p.below_kmh, active):
        return False
    if f.nearest_place_m <= p.stop_radius_m:
        return False  # at a planned stop or a hub
    return None, None


def unplanned_stop_holds(
    rule: StreamRule, fix: Fix, f: Features, active: bool
) -> Holding | bool | None:
    p = rule.params
    if f.speed >= _standing_threshold(p.below_kmh, active):
        return False
    if f.nearest_place_m <= p.stop_radius_m:
        return False
    return None, None


def watched_zones(rule: StreamRule, f: Features) -> frozenset[int]:
    if rule.watched_zone_ids is not None:
        return rule.watched_zone_ids
    # From zone kinds: the zones of the vehicle's hub (or of no hub) of those kinds.
    hub_id = f.ctx.hub_id
    cached = rule.watched_by_hub.get(hub_id)
    if cached is None:
        hubs = f.geometry.zone_hubs
        zones = f.geometry.zones
        cached = rule.watched_by_hub[hub_id] = frozenset(
            zone_id
            for zone_id, kind in zip(zones.zone_ids, zones.kinds, strict=True)
            if kind in rule.watched_zone_kinds and hubs.get(zone_id) in (None, hub_id)
        )
    return cached


def geofence_enter_holds(
    rule: StreamRule, fix: Fix, f: Features, active: bool
) -> Holding | bool | None:
    watched = watched_zones(rule, f)
    if not watched:
        return False
    inside = f.zones & watched
    if inside:
        zone_id = min(inside)
        return None, {"zone_id": zone_id, "zone": f.geometry.zone_names.get(zone_id, "")}
    if active and f.geometry.zones.distance_m(watched, f.point) <= rule.params.buffer_m:
        return None, None  # just outside the edge: GPS noise, still in
    return False


def geofence_exit_holds(
    rule: StreamRule, fix: Fix, f: Features, active: bool
) -> Holding | bool | None:
    watched = watched_zones(rule, f)
    if not watched or f.zones & watched:
        return False
    distance = f.geometry.zones.distance_m(watched, f.point)
    if not active and distance <= rule.params.buffer_m:
        return False  # just over the edge: wait until clearly outside
    return distance, {"distance_m": round(distance)}


def route_deviation_holds(
    rule: StreamRule, fix: Fix, f: Features, active: bool
) -> Holding | bool | None:
    distance = f.corridor_m
    if distance is None:
        return False  # no planned remaining route: nothing to deviate from
    p = rule.params
    threshold = p.corridor_m - p.hysteresis_m if active else p.corridor_m
    if distance > threshold:
        return distance, {"distance_m": round(distance)}
    return False


CONDITIONS: dict[str, Condition] = {
    "speeding": speeding_holds,
    "battery_low": battery_low_holds,
    "idle": idle_holds,
    "unplanned_stop": unplanned_stop_holds,
    "geofence_enter": geofence_enter_holds,
    "geofence_exit": geofence_exit_holds,
    "route_deviation": route_deviation_holds,
}


def stream_rule_compile(
    *, rule_id: int, kind: str, params: Any, min_duration_seconds: float = 0,
    scope_zone_ids: Sequence[int] = (),
) -> StreamRule:  # fmt: skip
    """A rule's evaluation-ready form (the kind's hold time, at least the rule's minimum)."""
    hold = {
        "speeding": lambda p: p.min_seconds,
        "battery_low": lambda p: 0.0,
        "idle": lambda p: p.minutes * 60,
        "unplanned_stop": lambda p: p.minutes * 60,
        "geofence_enter": lambda p: p.min_seconds,
        "geofence_exit": lambda p: p.min_seconds,
        "route_deviation": lambda p: p.min_seconds,
    }[kind](params)
    rule = StreamRule(
        id=rule_id, kind=kind, params=params, hold_seconds=max(float(hold), min_duration_seconds),
        condition=CONDITIONS[kind], peak_is_max=kind != "battery_low",
    )  # fmt: skip
    if kind in ("geofence_enter", "geofence_exit"):
        named = list(params.zone_ids) or list(scope_zone_ids)
        rule.watched_zone_ids = frozenset(named) if named else None
        default_kinds = ["restricted"] if kind == "geofence_enter" else ["service_area"]
        rule.watched_zone_kinds = frozenset(params.zone_kinds or default_kinds)
    elif scope_zone_ids:
        rule.zone_filter = frozenset(scope_zone_ids)
    if kind == "speeding":
        limits = [params.limit_kmh]
        if params.use_zone_limit:
            limits += list(params.zone_limits.values())
        rule.fast_limit = min(limits)
    return rule


# --- Whole-track features and rule groups ---------------------------------------------------
#
# A hundred rules times every fix is most of the work, and nearly always nothing happens: the
# speed is under every limit, the point is in none of the watched zones. Rules are grouped by
# kind, and each group has one cheap test per fix ("quiet") that is true only when every rule
# of the group that has no episode would say False or None for this fix - which the loop above
# skips anyway. So a quiet group costs one comparison, and only its rules with an episode
# (pending or open) are evaluated. The geometry (points, containing zones, corridor distance)
# is computed for the vehicle's whole track in one vectorised call each.


def _features_all(
    fixes: Sequence[Fix], previous: Sequence[float] | None, geometry: OrgGeometry,
    ctx: VehicleContext, rules: Sequence[StreamRule],
) -> list[Features]:  # fmt: skip
    if not fixes:
        return []
    projection = geometry.projection
    xys = [projection.xy(fix.lat, fix.lon) for fix in fixes]
    points = shapely.points(xys)
    zones = geometry.zones.containing_all(points)
    corridor: list[float] | list[None] = [None] * len(fixes)
    if ctx.corridor is not None and any(r.kind == "route_deviation" for r in rules):
        corridor = shapely.distance(ctx.corridor, points).tolist()
    features = []
    for n, fix in enumerate(fixes):
        features.append(
            Features(fix, previous, geometry, ctx, xy=xys[n], point=points[n], zones=zones[n],
                     corridor=corridor[n])
        )  # fmt: skip
        previous = (fix.t, fix.lat, fix.lon)
    return features


@dataclass
class _Group:
    rules: list[StreamRule]
    quiet: Callable[[Features], bool]
    keys: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.keys = frozenset(r.key for r in self.rules)


def _never_quiet(f: Features) -> bool:
    return False


def _speeding_quiet(rules: Sequence[StreamRule]) -> Callable[[Features], bool]:
    # A rule without an episode holds only over its limit at the fix: the lowest of its own
    # limit and its zone limits for the zones containing the fix.
    fast = min(r.fast_limit for r in rules)
    base = min(r.params.limit_kmh for r in rules)
    by_zone: dict[int, float] = {}
    for r in rules:
        if r.params.use_zone_limit:
            for zone_id, limit in r.params.zone_limits.items():
                by_zone[int(zone_id)] = min(limit, by_zone.get(int(zone_id), math.inf))

    def quiet(f: Features) -> bool:
        speed = f.speed
        if speed <= fast:
            return True
        if speed > base:
            return False
        return all(speed <= by_zone[z] for z in f.zones if z in by_zone)

    return quiet


def _battery_quiet(rules: Sequence[StreamRule]) -> Callable[[Features], bool]:
    highest = max(r.params.below_pct for r in rules)

    def quiet(f: Features) -> bool:
        battery = f.fix.battery
        return battery is None or battery > highest

    return quiet


def _standing_quiet(rules: Sequence[StreamRule], *, ignition: bool) -> Callable[[Features], bool]:
    # Without an episode a vehicle "stands" only under the rule's below_kmh.
    highest = max(r.params.below_kmh for r in rules)

    def quiet(f: Features) -> bool:
        return (ignition and f.fix.ignition is False) or f.speed >= highest

    return quiet


def _enter_quiet(
    rules: Sequence[StreamRule], watched: frozenset[int]
) -> Callable[[Features], bool]:
    def quiet(f: Features) -> bool:
        return watched.isdisjoint(f.zones)

    return quiet


def _exit_quiet(watched: Sequence[frozenset[int]]) -> Callable[[Features], bool]:
    # Without an episode, exit holds only outside every zone of its watched set.
    distinct = [w for w in set(watched) if w]

    def quiet(f: Features) -> bool:
        zones = f.zones
        return all(not w.isdisjoint(zones) for w in distinct)

    return quiet


def _deviation_quiet(
    rules: Sequence[StreamRule], ctx: VehicleContext
) -> Callable[[Features], bool]:
    if ctx.corridor is None:
        return lambda f: True  # no planned remaining route: every rule says False
    lowest = min(r.params.corridor_m for r in rules)

    def quiet(f: Features) -> bool:
        distance = f.corridor_m
        return distance is None or distance <= lowest

    return quiet


# Kinds whose quiet test reads the vehicle's context (its watched zones, its corridor).
_CONTEXT_KINDS = frozenset({"geofence_enter", "geofence_exit", "route_deviation"})
GroupsCache = dict[tuple[str, ...], list[_Group]]


def _groups_for(
    rules: Sequence[StreamRule], ctx: VehicleContext, geometry: OrgGeometry,
    cache: GroupsCache | None,
) -> list[_Group]:  # fmt: skip
    if cache is None or any(rule.kind in _CONTEXT_KINDS for rule in rules):
        return _groups_build(rules, ctx, geometry)
    key = tuple(rule.key for rule in rules)
    groups = cache.get(key)
    if groups is None:
        groups = cache[key] = _groups_build(rules, ctx, geometry)
    return groups


def _groups_build(
    rules: Sequence[StreamRule], ctx: VehicleContext, geometry: OrgGeometry
) -> list[_Group]:
    by_kind: dict[str, list[StreamRule]] = {}
    for rule in rules:
        by_kind.setdefault(rule.kind, []).append(rule)
    groups = []
    for kind, members in by_kind.items():
        quiet: Callable[[Features], bool] = _never_quiet
        if kind == "speeding":
            quiet = _speeding_quiet(members)
        elif kind == "battery_low":
            quiet = _battery_quiet(members)
        elif kind == "idle":
            quiet = _standing_quiet(members, ignition=True)
        elif kind == "unplanned_stop":
            quiet = _standing_quiet(members, ignition=False)
        elif kind == "geofence_enter":
            watched = frozenset().union(*(_watched_for(r, ctx, geometry) for r in members))
            quiet = _enter_quiet(members, watched)
        elif kind == "geofence_exit":
            quiet = _exit_quiet([_watched_for(r, ctx, geometry) for r in members])
        elif kind == "route_deviation":
            quiet = _deviation_quiet(members, ctx)
        groups.append(_Group(members, quiet))
    return groups


def _watched_for(rule: StreamRule, ctx: VehicleContext, geometry: OrgGeometry) -> frozenset[int]:
    probe = Features.__new__(Features)
    probe.ctx, probe.geometry = ctx, geometry
    return watched_zones(rule, probe)
