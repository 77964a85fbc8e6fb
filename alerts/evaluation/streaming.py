"""The streaming runner: one organization's new fixes for some vehicles, evaluated in fix order
against the organization's streamed rules, in ONE transaction with the alerts they open,
update or resolve and the moved cursors. A worker killed mid-batch rolls all of it back; the
re-run (late acknowledgement) reads the same fixes after the same cursors and writes the same
alerts once. Fixes older than a vehicle's cursor (arriving late) are never evaluated, so they
can neither open nor close an episode."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from alerts.live import alert_events_push_on_commit
from alerts.models import Alert, SubjectType
from alerts.services.episodes import (
    Finding,
    Subject,
    Writes,
    alert_open,
    alert_resolve,
    alert_update,
)
from deliveries.models import Route, Stop
from fleet.models import Vehicle
from tenancy.context import require_organization

from .episode import Action
from .geometry import Places, corridor_build, places_build
from .rules import LoadedRule, OrgRules, org_rules_load
from .stream import (
    Fix,
    GroupsCache,
    StreamRule,
    Transition,
    VehicleContext,
    vehicle_evaluate,
)

logger = logging.getLogger(__name__)

MAX_FIXES_PER_RUN = 50_000
INITIAL_LOOKBACK = dt.timedelta(hours=1)
RETRY_OUTSIDE_HOURS_SECONDS = 60.0

# Each vehicle's fixes after its own cursor (an index range per vehicle), not every vehicle's
# after the earliest cursor: one vehicle evaluated long ago must not drag in the rest's
# history. The constant floor keeps the partitions older than every cursor out of the plan.
_FIXES_SQL = """
SELECT p.vehicle_id, extract(epoch FROM p.fix_time), p.latitude, p.longitude, p.speed_kmh,
       p.battery_pct, p.ignition
FROM unnest(%s::bigint[], %s::timestamptz[]) AS c(vehicle_id, after)
JOIN fleet_position p ON p.vehicle_id = c.vehicle_id AND p.fix_time > c.after
WHERE p.organization_id = %s AND p.fix_time > %s
ORDER BY p.vehicle_id, p.fix_time, p.device_id
LIMIT %s
"""

# The moved cursors and states in one statement (Django's bulk_update builds a CASE per field
# and row: half of a 500-vehicle run's time went into compiling it).
_STATES_UPDATE_SQL = """
UPDATE alerts_evaluationstate AS s
SET state = c.state, cursor_fix_time = c.cursor_fix_time, updated_at = now()
FROM unnest(%s::bigint[], %s::text[]::jsonb[], %s::timestamptz[]) AS c(id, state, cursor_fix_time)
WHERE s.organization_id = %s AND s.id = c.id
"""


@dataclass
class RunResult:
    vehicles: int = 0
    fixes: int = 0
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    more: bool = False  # the fix limit was hit: a follow-up run takes the rest
    skipped: int = 0  # vehicles evaluated by a later-started run already (`requested_at`)


def _epoch(value: dt.datetime) -> float:
    return value.timestamp()


def _at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


_STATES_INSERT_SQL = """
INSERT INTO alerts_evaluationstate (organization_id, subject_type, subject_id, state, updated_at)
SELECT %s, %s, v, '{}'::jsonb, now() FROM unnest(%s::bigint[]) AS v ORDER BY v
ON CONFLICT (organization_id, subject_type, subject_id) DO NOTHING
"""
# Locked in subject order: two runs over overlapping vehicles queue, never deadlock.
_STATES_LOCK_SQL = """
SELECT id, subject_id, cursor_fix_time, state FROM alerts_evaluationstate
WHERE organization_id = %s AND subject_type = %s AND subject_id = ANY(%s)
ORDER BY subject_id
FOR UPDATE
"""


@dataclass
class _State:
    """One vehicle's EvaluationState row as the run holds it (a model instance per vehicle
    cost more than the vehicle's evaluation)."""

    pk: int
    cursor_fix_time: dt.datetime | None
    state: dict[str, Any]


def _states_lock(organization_id: int, vehicle_ids: Sequence[int]) -> dict[int, _State]:
    """Each vehicle's EvaluationState row, created if missing, locked for the run (two
    statements: the ORM's bulk insert and locking read cost a third of a 500-vehicle run)."""
    vehicle = SubjectType.VEHICLE.value
    with connection.cursor() as cursor:
        cursor.execute(_STATES_INSERT_SQL, [organization_id, vehicle, list(vehicle_ids)])
        cursor.execute(_STATES_LOCK_SQL, [organization_id, vehicle, list(vehicle_ids)])
        rows = cursor.fetchall()
    return {
        subject_id: _State(
            pk, cursor_fix_time, json.loads(state) if isinstance(state, str) else state
        )
        for pk, subject_id, cursor_fix_time, state in rows
    }


def _states_save(organization_id: int, states: Sequence[_State]) -> None:
    if not states:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _STATES_UPDATE_SQL,
            [
                [s.pk for s in states],
                [json.dumps(s.state) for s in states],
                [s.cursor_fix_time for s in states],
                organization_id,
            ],
        )


def _fixes_load(
    organization_id: int, cursors: dict[int, float], floor: float
) -> tuple[dict[int, list[Fix]], int]:
    vehicle_ids = list(cursors)
    # A microsecond of slack under each cursor (epoch floats round-trip to the microsecond);
    # the exact test is the Python one below, as before.
    after = [_at(cursors[v] - 1e-6) for v in vehicle_ids]
    with connection.cursor() as cursor:
        cursor.execute(
            _FIXES_SQL,
            [vehicle_ids, after, organization_id, min(after), MAX_FIXES_PER_RUN],
        )
        rows = cursor.fetchall()
    fixes: dict[int, list[Fix]] = defaultdict(list)
    for vehicle_id, t, lat, lon, speed, battery, ignition in rows:
        t = float(t)
        if t > cursors.get(vehicle_id, floor):
            fixes[vehicle_id].append(Fix(t, lat, lon, speed, battery, ignition))
    return fixes, len(rows)


def vehicle_contexts_load(
    org: OrgRules, vehicle_ids: Sequence[int], *, dates: Sequence[dt.date]
) -> dict[int, VehicleContext]:
    """Each vehicle's hub, tags, route and its planned remaining path."""
    organization_id = org.organization_id
    contexts = {
        pk: VehicleContext(vehicle_id=pk, label=plate, hub_id=hub_id, tags=frozenset(tags or ()))
        for pk, plate, hub_id, tags in Vehicle.objects.filter(
            organization_id=organization_id, pk__any=vehicle_ids
        ).values_list("pk", "plate", "hub_id", "tags")
    }
    routes: dict[int, tuple[int, int]] = {}
    for pk, vehicle_id, hub_id in (
        Route.objects.filter(
            organization_id=organization_id, vehicle_id__any=vehicle_ids, date__in=dates,
            status__in=[Route.Status.DISPATCHED, Route.Status.IN_PROGRESS],
        )
        .order_by("date", "status", "pk")
        .values_list("pk", "vehicle_id", "hub_id")
    ):  # fmt: skip
        routes[vehicle_id] = (pk, hub_id)  # the latest date wins
    stops: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in (
        Stop.objects.filter(
            organization_id=organization_id, route_id__any=[r[0] for r in routes.values()]
        )
        .order_by("route_id", "sequence")
        .values_list("route_id", "order__latitude", "order__longitude", "actual_departure")
    ):
        stops[row[0]].append(row)
    projection = org.geometry.projection
    hub_points = list(org.hubs.values())
    # Read-only, so shared: every vehicle without a route stands still planned at the hubs.
    places: dict[tuple[tuple[float, float], ...], Places] = {}
    for vehicle_id, ctx in contexts.items():
        route = routes.get(vehicle_id)
        route_stops = stops.get(route[0], []) if route else []
        located = [(lat, lon) for _, lat, lon, _ in route_stops if lat is not None]
        points = (*hub_points, *located)
        ctx.places = places.get(points) or places.setdefault(
            points, places_build(projection, points)
        )
        if route:
            ctx.route_id = route[0]
            start = org.hubs.get(route[1])
            path: list[tuple[float, float]] = [start] if start else []
            for _, lat, lon, departed in route_stops:
                if lat is None:
                    continue
                if departed is not None:
                    path = [(lat, lon)]  # the last visited stop is where the rest starts
                else:
                    path.append((lat, lon))
            remaining = [s for s in route_stops if s[3] is None]
            ctx.corridor = corridor_build(projection, path) if remaining else None
    return contexts


def _details(rule: StreamRule, transition: Transition) -> dict[str, Any]:
    details = dict(transition.details)
    duration = round(transition.at - transition.since)
    details["duration_s"] = duration
    peak = transition.peak
    if rule.kind == "speeding" and peak is not None:
        details["peak_kmh"] = round(peak)
    elif rule.kind == "battery_low" and peak is not None:
        details["battery_pct"] = round(peak)
    elif rule.kind in ("idle", "unplanned_stop"):
        details["minutes"] = round(duration / 60)
    elif rule.kind in ("route_deviation", "geofence_exit") and peak is not None:
        details["distance_m"] = round(peak)
    return details


def _vehicle_subject(ctx: VehicleContext) -> Subject:
    return Subject(
        type=SubjectType.VEHICLE, id=ctx.vehicle_id, label=ctx.label, vehicle_id=ctx.vehicle_id,
        hub_id=ctx.hub_id, route_id=ctx.route_id,
    )  # fmt: skip


OpenAlerts = dict[tuple[int, int], Alert]


def _open_alerts_load(
    organization_id: int, rule_ids: Sequence[int], vehicle_ids: Sequence[int]
) -> OpenAlerts:
    """The batch's non-resolved alerts of streamed rules, by (rule, vehicle): one query, so an
    update transition costs no lookup."""
    rows = Alert.objects.filter(
        organization_id=organization_id, rule_id__in=rule_ids, subject_type=SubjectType.VEHICLE,
        subject_id__any=vehicle_ids,
    ).exclude(status=Alert.Status.RESOLVED)  # fmt: skip
    return {(int(a.rule_id), a.subject_id): a for a in rows if a.rule_id is not None}


Resolved = dict[tuple[int, int], float]  # (rule, vehicle): the latest resolved_at, epoch s


def _resolved_load(
    organization_id: int, rules: Sequence[LoadedRule], vehicle_ids: Sequence[int], first: float
) -> Resolved:
    """The batch's cooldown facts in one query: per (rule, vehicle) the latest resolved_at
    within the longest cooldown before the batch's first fix (what `cooldown_until` would
    find at any fix of the batch); the batch's own resolves are added as they happen."""
    cooling = [r for r in rules if r.rule.cooldown_seconds]
    if not cooling:
        return {}
    window = max(r.rule.cooldown_seconds for r in cooling)
    latest: Resolved = {}
    for rule_id, subject_id, resolved_at in Alert.objects.filter(
        organization_id=organization_id, rule_id__in=[r.id for r in cooling],
        subject_type=SubjectType.VEHICLE, subject_id__any=vehicle_ids,
        status=Alert.Status.RESOLVED, resolved_at__gt=_at(first - window),
    ).values_list("rule_id", "subject_id", "resolved_at"):  # fmt: skip
        key = (int(rule_id), int(subject_id))
        latest[key] = max(latest.get(key, -math.inf), resolved_at.timestamp())
    return latest


def _apply(
    loaded: LoadedRule, ctx: VehicleContext, transition: Transition, result: RunResult,
    open_alerts: OpenAlerts, writes: Writes, resolved: Resolved,
) -> None:  # fmt: skip
    rule = loaded.rule
    assert loaded.stream is not None
    subject = _vehicle_subject(ctx)
    details = _details(loaded.stream, transition)
    at = _at(transition.at)
    key = (loaded.id, ctx.vehicle_id)
    if transition.action is Action.TRY_OPEN:
        finding = Finding(
            subject=subject, condition_started_at=_at(transition.since), details=details,
            latitude=transition.lat, longitude=transition.lon,
        )  # fmt: skip
        alert, created = alert_open(
            rule=rule, finding=finding, at=at, known_absent=key not in open_alerts, writes=writes
        )
        open_alerts[key] = alert
        result.opened += created
        return
    held = open_alerts.get(key)
    if held is None:
        return  # resolved by a person meanwhile: the episode ends quietly
    if transition.action is Action.UPDATE:
        result.updated += alert_update(
            alert=held, details=details, at=at, latitude=transition.lat, longitude=transition.lon,
            writes=writes,
        )  # fmt: skip
    elif transition.action is Action.RESOLVE:
        result.resolved += alert_resolve(alert=held, at=at, details=details, writes=writes)
        resolved[key] = max(resolved.get(key, -math.inf), transition.at)
        del open_alerts[key]


# Clock skew allowed between the process that asked for a run and PostgreSQL (see
# `_evaluated_since`).
REQUEST_SKEW = dt.timedelta(seconds=1)

_EVALUATED_SINCE_SQL = """
SELECT subject_id FROM alerts_evaluationstate
WHERE organization_id = %s AND subject_type = %s AND subject_id = ANY(%s) AND updated_at > %s
"""


def _evaluated_since(
    organization_id: int, vehicle_ids: Sequence[int], requested_at: dt.datetime
) -> set[int]:
    """The vehicles a run has evaluated since this one was asked for. A run's state rows take
    its transaction's start time (`now()`), and its reads come after that start; the request
    came after the commit of the fixes it is about. So a state written by a run that started
    after the request (give or take REQUEST_SKEW of clock difference) has those fixes
    evaluated already, and this run has nothing to do for the vehicle. That makes the queue
    work-conserving: when the worker falls behind, the first run of a vehicle takes every fix
    it has, and the runs queued behind it for the same vehicle only look."""
    with connection.cursor() as cursor:
        cursor.execute(
            _EVALUATED_SINCE_SQL,
            [organization_id, SubjectType.VEHICLE.value, list(vehicle_ids),
             requested_at + REQUEST_SKEW],
        )  # fmt: skip
        return {int(row[0]) for row in cursor.fetchall()}


def positions_evaluate(
    *, organization_id: int, vehicle_ids: Sequence[int], since: dt.datetime | None = None,
    now: dt.datetime | None = None, requested_at: dt.datetime | None = None,
) -> RunResult:  # fmt: skip
    """Evaluate the vehicles' fixes newer than their cursors (for a vehicle never evaluated:
    from `since`, the first fix time the event announced, else the last hour). With
    `requested_at` (when the fixes' relay asked for this run, after their commit), vehicles
    that a run started since then has evaluated are skipped (`_evaluated_since`)."""
    require_organization(organization_id)
    now = now or timezone.now()
    result = RunResult()
    org = org_rules_load(organization_id)
    streamed = org.streamed
    vehicle_ids = sorted(set(int(v) for v in vehicle_ids))
    if vehicle_ids and requested_at is not None:
        done = _evaluated_since(organization_id, vehicle_ids, requested_at)
        result.skipped = len(done)
        vehicle_ids = [v for v in vehicle_ids if v not in done]
    if not vehicle_ids:
        return result
    floor = _epoch(since) - 1e-6 if since else _epoch(now - INITIAL_LOOKBACK)
    with transaction.atomic():
        states = _states_lock(organization_id, vehicle_ids)
        cursors = {v: _epoch(s.cursor_fix_time) for v, s in states.items() if s.cursor_fix_time}
        for v in states:
            cursors.setdefault(v, floor)
        fixes, read = _fixes_load(organization_id, cursors, floor)
        result.more = read >= MAX_FIXES_PER_RUN
        if not fixes:
            return result
        first = min(f[0].t for f in fixes.values())
        dates = sorted({org.local_today(_at(first)), org.local_today(now)})
        contexts = vehicle_contexts_load(org, list(fixes), dates=dates)
        by_id = {r.id: r for r in streamed}
        resolved = _resolved_load(organization_id, streamed, list(fixes), first)
        gate = _gate(by_id, resolved)
        open_alerts = _open_alerts_load(organization_id, list(by_id), list(fixes))
        writes = Writes(organization_id)
        groups_cache: GroupsCache = {}
        changed = []
        for vehicle_id, vehicle_fixes in fixes.items():
            ctx = contexts.get(vehicle_id)
            state = states[vehicle_id]
            if ctx is None:
                continue  # the vehicle was deleted
            rules = [
                r for r in streamed
                if r.applies_to(hub_id=ctx.hub_id, vehicle_id=vehicle_id, tags=ctx.tags,
                                route_id=ctx.route_id)
            ]  # fmt: skip

            def apply(transition: Transition, ctx: VehicleContext = ctx) -> None:
                _apply(
                    by_id[transition.rule_id], ctx, transition, result, open_alerts, writes,
                    resolved,
                )  # fmt: skip

            new_state, _ = vehicle_evaluate(
                rules=[r.stream for r in rules if r.stream is not None], ctx=ctx,
                geometry=org.geometry, state=state.state or {}, fixes=vehicle_fixes, gate=gate,
                emit=apply, groups_cache=groups_cache,
            )  # fmt: skip
            state.state = new_state
            state.cursor_fix_time = _at(vehicle_fixes[-1].t)
            changed.append(state)
            result.vehicles += 1
            result.fixes += len(vehicle_fixes)
        # On the screens as soon as this commits; the outbox relay delivers the same events
        # to every subscriber (and the screens again, de-duplicated by the event id).
        alert_events_push_on_commit(organization_id, writes.flush())
        _states_save(organization_id, changed)
        if result.more:
            transaction.on_commit(
                lambda: _follow_up(organization_id, [v for v in vehicle_ids if v in fixes])
            )
    return result


def _follow_up(organization_id: int, vehicle_ids: list[int]) -> None:
    from alerts.tasks import evaluate_positions

    evaluate_positions.delay(organization_id=organization_id, vehicle_ids=vehicle_ids)


def _gate(by_id: dict[int, LoadedRule], resolved: Resolved) -> Any:
    def gate(rule: StreamRule, vehicle_id: int, t: float) -> float | None:
        loaded = by_id[rule.id]
        if not loaded.hours.active_at(_at(t)):
            return t + RETRY_OUTSIDE_HOURS_SECONDS
        # `cooldown_until`, from the batch's cooldown facts instead of a query per opening.
        cooldown = loaded.rule.cooldown_seconds
        last = resolved.get((rule.id, vehicle_id)) if cooldown else None
        if last is not None and last > t - cooldown:
            return last + cooldown
        return None

    return gate


__all__ = ["RunResult", "positions_evaluate", "vehicle_contexts_load"]
