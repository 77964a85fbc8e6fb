"""The beat sweep of one organization: time-based kinds (offline, late risk, late, long dwell,
route not started, data quality, idle while late risk) evaluated on what the database says
now, auto-resolution of episodes whose condition cleared, and escalation.

Each kind has a *finder*: the subjects for which the condition holds now, with when it began.
`sweep_apply` then opens what is new (past the rule's minimum duration, inside active hours,
outside cooldown), updates what is still holding and resolves what no longer is. A finder that
runs twice finds the same subjects, and an open alert is never opened again (the partial unique
index), so a sweep re-run after a crash doubles nothing."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from alerts.models import Alert, SubjectType
from alerts.services.episodes import (
    Finding,
    Subject,
    alert_escalate,
    alert_open,
    alert_resolve,
    alert_update,
    cooldowns_for,
)
from deliveries.models import Order, OrderStatus, Route, Stop
from fleet.models import Device, Position, RejectedFix, VehicleState
from tenancy.context import require_organization

from .rules import LoadedRule, OrgRules, org_rules_load

logger = logging.getLogger(__name__)

Finder = Callable[[OrgRules, LoadedRule, dt.datetime], dict[int, Finding]]
OPEN_ORDER_STATUSES = [
    OrderStatus.CREATED, OrderStatus.ASSIGNED, OrderStatus.OUT_FOR_DELIVERY, OrderStatus.ARRIVED,
]  # fmt: skip
LATE_LOOKBACK = dt.timedelta(days=1)


def _minutes(delta: dt.timedelta) -> int:
    return round(delta.total_seconds() / 60)


def offline_find(org: OrgRules, loaded: LoadedRule, now: dt.datetime) -> dict[int, Finding]:
    threshold = dt.timedelta(minutes=loaded.params.minutes)
    found = {}
    rows = (
        VehicleState.objects.filter(
            organization_id=org.organization_id, fix_time__lt=now - threshold,
            vehicle__active=True,
        )
        .values_list("vehicle_id", "fix_time", "latitude", "longitude", "vehicle__plate",
                     "vehicle__hub_id", "vehicle__tags")
    )  # fmt: skip
    for vehicle_id, fix_time, lat, lon, plate, hub_id, tags in rows:
        if not loaded.applies_to(hub_id=hub_id, vehicle_id=vehicle_id, tags=tags or ()):
            continue
        found[vehicle_id] = Finding(
            subject=Subject(SubjectType.VEHICLE, vehicle_id, plate, vehicle_id=vehicle_id, hub_id=hub_id),
            condition_started_at=fix_time + threshold,
            details={"minutes": _minutes(now - fix_time), "last_fix_at": fix_time.isoformat()},
            latitude=lat, longitude=lon,
        )  # fmt: skip
    return found


def _order_subject(order_id: int, reference: str, hub_id: int | None, **ids: Any) -> Subject:
    return Subject(SubjectType.ORDER, order_id, reference, order_id=order_id, hub_id=hub_id, **ids)


def late_risk_holds(
    params: Any, *, eta: dt.datetime, window_end: dt.datetime, stops_ahead: int
) -> bool:
    """The late-risk condition of one stop (pure; `bench/late_risk.py` measures it): its ETA,
    plus `slack_per_stop_minutes` for each remaining stop before it, past the window end plus
    `minutes_past_window`."""
    projected = eta + dt.timedelta(minutes=params.slack_per_stop_minutes * stops_ahead)
    return projected > window_end + dt.timedelta(minutes=params.minutes_past_window)


def late_risk_find(org: OrgRules, loaded: LoadedRule, now: dt.datetime) -> dict[int, Finding]:
    """A stop's ETA, plus slack for each remaining stop before it, past the window end (plus
    the margin), for stops due within the horizon."""
    p = loaded.params
    rows = (
        Stop.objects.filter(
            organization_id=org.organization_id, actual_arrival__isnull=True,
            route__status__in=[Route.Status.DISPATCHED, Route.Status.IN_PROGRESS],
            order__status__in=OPEN_ORDER_STATUSES,
        )
        .order_by("route_id", "sequence")
        .values_list("route_id", "eta", "order_id", "order__reference", "order__window_end",
                     "order__hub_id", "route__vehicle_id", "order__latitude", "order__longitude")
    )  # fmt: skip
    found = {}
    rank: dict[int, int] = defaultdict(int)
    horizon = now + dt.timedelta(minutes=p.horizon_minutes)
    for route_id, eta, order_id, reference, window_end, hub_id, vehicle_id, lat, lon in rows:
        ahead = rank[route_id]
        rank[route_id] += 1
        if eta is None or window_end is None or window_end > horizon:
            continue
        if not loaded.applies_to(hub_id=hub_id, vehicle_id=vehicle_id, route_id=route_id):
            continue
        if late_risk_holds(p, eta=eta, window_end=window_end, stops_ahead=ahead):
            found[order_id] = Finding(
                subject=_order_subject(order_id, reference, hub_id, route_id=route_id, vehicle_id=vehicle_id),
                condition_started_at=now,
                details={"minutes_late": _minutes(eta - window_end), "eta": eta.isoformat(),
                         "window_end": window_end.isoformat(), "stops_ahead": ahead},
                latitude=lat, longitude=lon,
            )  # fmt: skip
    return found


def late_find(org: OrgRules, loaded: LoadedRule, now: dt.datetime) -> dict[int, Finding]:
    grace = dt.timedelta(minutes=loaded.params.grace_minutes)
    rows = Order.objects.filter(
        organization_id=org.organization_id, status__in=OPEN_ORDER_STATUSES,
        window_end__lt=now - grace, window_end__gte=now - LATE_LOOKBACK,
    ).values_list("pk", "reference", "hub_id", "window_end", "latitude", "longitude")  # fmt: skip
    found = {}
    for order_id, reference, hub_id, window_end, lat, lon in rows:
        if not loaded.applies_to(hub_id=hub_id):
            continue
        found[order_id] = Finding(
            subject=_order_subject(order_id, reference, hub_id),
            condition_started_at=window_end + grace,
            details={"window_end": window_end.isoformat(), "minutes": _minutes(now - window_end)},
            latitude=lat, longitude=lon,
        )  # fmt: skip
    return found


def long_dwell_find(org: OrgRules, loaded: LoadedRule, now: dt.datetime) -> dict[int, Finding]:
    rows = Stop.objects.filter(
        organization_id=org.organization_id, actual_arrival__isnull=False,
        actual_departure__isnull=True, actual_arrival__gte=now - LATE_LOOKBACK,
    ).values_list("pk", "route_id", "actual_arrival", "order_id", "order__reference",
                  "order__service_minutes", "order__hub_id", "route__vehicle_id",
                  "order__latitude", "order__longitude")  # fmt: skip
    found = {}
    for (
        stop_id,
        route_id,
        arrival,
        order_id,
        reference,
        service,
        hub_id,
        vehicle_id,
        lat,
        lon,
    ) in rows:
        limit = dt.timedelta(minutes=service + loaded.params.minutes_over_service)
        if now - arrival <= limit or not loaded.applies_to(
            hub_id=hub_id, vehicle_id=vehicle_id, route_id=route_id
        ):
            continue
        found[stop_id] = Finding(
            subject=Subject(SubjectType.STOP, stop_id, reference, route_id=route_id,
                            order_id=order_id, vehicle_id=vehicle_id, hub_id=hub_id),
            condition_started_at=arrival + limit,
            details={"minutes": _minutes(now - arrival), "arrived_at": arrival.isoformat()},
            latitude=lat, longitude=lon,
        )  # fmt: skip
    return found


def route_not_started_find(
    org: OrgRules, loaded: LoadedRule, now: dt.datetime
) -> dict[int, Finding]:
    late = dt.timedelta(minutes=loaded.params.minutes_late)
    rows = Route.objects.filter(
        organization_id=org.organization_id, date=org.local_today(now),
        status__in=[Route.Status.PLANNED, Route.Status.DISPATCHED],
    )  # fmt: skip
    found = {}
    firsts: dict[int, dt.datetime] = {}
    for route_id, planned in (
        Stop.objects.filter(
            organization_id=org.organization_id, route__in=rows, planned_arrival__isnull=False
        )
        .order_by("route_id", "sequence")
        .values_list("route_id", "planned_arrival")
    ):
        firsts.setdefault(route_id, planned)
    arrived = set(
        Stop.objects.filter(
            organization_id=org.organization_id, route__in=rows, actual_arrival__isnull=False
        ).values_list("route_id", flat=True)
    )
    for route_id, hub_id, vehicle_id in rows.values_list("pk", "hub_id", "vehicle_id"):
        first = firsts.get(route_id)
        if first is None or route_id in arrived or now - first <= late:
            continue
        if not loaded.applies_to(hub_id=hub_id, vehicle_id=vehicle_id, route_id=route_id):
            continue
        found[route_id] = Finding(
            subject=Subject(SubjectType.ROUTE, route_id, f"#{route_id}", route_id=route_id,
                            vehicle_id=vehicle_id, hub_id=hub_id),
            condition_started_at=first + late,
            details={"first_planned_arrival": first.isoformat(), "minutes": _minutes(now - first)},
        )  # fmt: skip
    return found


def data_quality_find(org: OrgRules, loaded: LoadedRule, now: dt.datetime) -> dict[int, Finding]:
    p = loaded.params
    start = now - dt.timedelta(minutes=p.window_minutes)
    refused = dict(
        RejectedFix.objects.filter(organization_id=org.organization_id, last_seen_at__gte=start)
        .values_list("device_id")
        .annotate(n=Sum("repeats"))
        .values_list("device_id", "n")
    )
    if not refused:
        return {}
    accepted = _accepted_counts(org.organization_id, list(refused), start)
    devices = {
        pk: (identifier, vehicle_id, hub_id, tags)
        for pk, identifier, vehicle_id, hub_id, tags in Device.objects.filter(
            organization_id=org.organization_id, pk__in=list(refused)
        ).values_list("pk", "identifier", "vehicle_id", "vehicle__hub_id", "vehicle__tags")
    }
    found = {}
    for device_id, n_refused in refused.items():
        total = n_refused + accepted.get(device_id, 0)
        share = n_refused / total if total else 0
        if total < p.min_fixes or share < p.refused_share or device_id not in devices:
            continue
        identifier, vehicle_id, hub_id, tags = devices[device_id]
        if not loaded.applies_to(hub_id=hub_id, vehicle_id=vehicle_id, tags=tags or ()):
            continue
        found[device_id] = Finding(
            subject=Subject(SubjectType.DEVICE, device_id, identifier, vehicle_id=vehicle_id, hub_id=hub_id),
            condition_started_at=now,
            details={"refused_pct": round(share * 100), "refused": n_refused, "fixes": total},
        )  # fmt: skip
    return found


def _accepted_counts(
    organization_id: int, device_ids: list[int], start: dt.datetime
) -> dict[int, int]:
    from django.db.models import Count

    return dict(
        Position.objects.filter(
            organization_id=organization_id, device_id__in=device_ids, server_time__gte=start
        )
        .values("device_id")
        .annotate(n=Count("fix_time"))
        .values_list("device_id", "n")
    )


def idle_while_late_risk_holds(
    *, status: str, stationary_since: dt.datetime | None, next_stop_late_risk: bool | None,
    now: dt.datetime, idle_minutes: float,
) -> bool:  # fmt: skip
    """The route's vehicle has stood (idle or stopped) for at least N minutes while the next
    stop it has not reached is at late risk (pure). No next stop: nothing to be late for."""
    standing = status in (VehicleState.Status.IDLE, VehicleState.Status.STOPPED)
    return (
        standing
        and stationary_since is not None
        and now - stationary_since >= dt.timedelta(minutes=idle_minutes)
        and bool(next_stop_late_risk)
    )


def idle_while_late_risk_find(
    org: OrgRules, loaded: LoadedRule, now: dt.datetime
) -> dict[int, Finding]:
    idle_since = now - dt.timedelta(minutes=loaded.params.idle_minutes)
    routes = Route.objects.filter(
        organization_id=org.organization_id, status=Route.Status.IN_PROGRESS, vehicle__isnull=False,
    ).values_list("pk", "vehicle_id", "hub_id")  # fmt: skip
    by_vehicle = {vehicle_id: (route_id, hub_id) for route_id, vehicle_id, hub_id in routes}
    if not by_vehicle:
        return {}
    # The query only narrows to the candidates; idle_while_late_risk_holds decides.
    standing = VehicleState.objects.filter(
        organization_id=org.organization_id, vehicle_id__in=list(by_vehicle),
        status__in=[VehicleState.Status.IDLE, VehicleState.Status.STOPPED],
        stationary_since__lte=idle_since,
    ).values_list(
        "vehicle_id", "status", "stationary_since", "latitude", "longitude", "vehicle__plate"
    )  # fmt: skip
    found = {}
    for vehicle_id, status, since, lat, lon, plate in standing:
        route_id, hub_id = by_vehicle[vehicle_id]
        next_stop = (
            Stop.objects.filter(organization_id=org.organization_id, route_id=route_id,
                                actual_arrival__isnull=True)
            .order_by("sequence").values_list("late_risk", "order__reference").first()
        )  # fmt: skip
        holds = idle_while_late_risk_holds(
            status=status, stationary_since=since, next_stop_late_risk=next_stop and next_stop[0],
            now=now, idle_minutes=loaded.params.idle_minutes,
        )  # fmt: skip
        if not holds or next_stop is None:
            continue
        if not loaded.applies_to(hub_id=hub_id, vehicle_id=vehicle_id, route_id=route_id):
            continue
        found[route_id] = Finding(
            subject=Subject(SubjectType.ROUTE, route_id, f"#{route_id} ({plate})", route_id=route_id,
                            vehicle_id=vehicle_id, hub_id=hub_id),
            condition_started_at=since,
            details={"next_order": next_stop[1], "idle_minutes": _minutes(now - since)},
            latitude=lat, longitude=lon,
        )  # fmt: skip
    return found


def delivery_failed_still(
    org: OrgRules, loaded: LoadedRule, now: dt.datetime
) -> dict[int, Finding]:
    """Event-opened: here only what still holds, so the rest resolves (re-attempted, returned)."""
    open_ids = (
        Alert.objects.filter(organization_id=org.organization_id, rule=loaded.rule)
        .exclude(status=Alert.Status.RESOLVED)
        .values_list("subject_id", flat=True)
    )
    still = Order.objects.filter(
        organization_id=org.organization_id, pk__in=list(open_ids), status=OrderStatus.FAILED
    ).values_list("pk", "reference", "hub_id")
    return {
        pk: Finding(subject=_order_subject(pk, ref, hub_id), condition_started_at=now)
        for pk, ref, hub_id in still
    }


# kind -> (finder, opens new alerts). Event kinds not listed here resolve by hand only.
FINDERS: dict[str, tuple[Finder, bool]] = {
    "vehicle_offline": (offline_find, True),
    "late_risk": (late_risk_find, True),
    "late": (late_find, True),
    "long_dwell": (long_dwell_find, True),
    "route_not_started": (route_not_started_find, True),
    "data_quality": (data_quality_find, True),
    "idle_while_late_risk": (idle_while_late_risk_find, True),
    "delivery_failed": (delivery_failed_still, False),
}


def may_open(loaded: LoadedRule, finding: Finding, now: dt.datetime) -> bool:
    """The gates every evaluator applies before opening: minimum duration, active hours
    (cooldown: `sweep_apply` looks it up for all subjects at once)."""
    rule = loaded.rule
    if (now - finding.condition_started_at).total_seconds() < rule.min_duration_seconds:
        return False
    return loaded.hours.active_at(now)


def sweep_apply(
    loaded: LoadedRule, findings: dict[int, Finding], now: dt.datetime, *, opens: bool = True
) -> dict[str, int]:
    counts = {"opened": 0, "updated": 0, "resolved": 0}
    rule = loaded.rule
    open_alerts = {
        alert.subject_id: alert
        for alert in Alert.objects.filter(organization_id=rule.organization_id, rule=rule).exclude(
            status=Alert.Status.RESOLVED
        )
    }
    for subject_id, alert in open_alerts.items():
        finding = findings.get(subject_id)
        if finding is None:
            counts["resolved"] += alert_resolve(alert=alert, at=now)
        elif finding.details and any(alert.details.get(k) != v for k, v in finding.details.items()):
            counts["updated"] += alert_update(
                alert=alert, details=finding.details, at=now,
                latitude=finding.latitude, longitude=finding.longitude,
            )  # fmt: skip
    new = {k: f for k, f in findings.items() if k not in open_alerts and may_open(loaded, f, now)}
    if opens and new:
        subject_type = next(iter(new.values())).subject.type
        cooling = cooldowns_for(rule=rule, subject_type=subject_type, at=now)
        for subject_id, finding in new.items():
            if subject_id in cooling:
                continue
            counts["opened"] += alert_open(rule=rule, finding=finding, at=now, known_absent=True)[1]
    return counts


def escalations_apply(*, organization_id: int, now: dt.datetime) -> int:
    """Open (unacknowledged, not snoozed) alerts past their rule's escalation time."""
    require_organization(organization_id)
    due = (
        Alert.objects.filter(
            organization_id=organization_id, status=Alert.Status.OPEN, escalated_at__isnull=True,
            rule__escalate_after_minutes__isnull=False, severity__gte=F("rule__severity"),
        )
        .filter(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))
        .select_related("rule")
    )  # fmt: skip
    escalated = 0
    for alert in due:
        assert alert.rule is not None and alert.rule.escalate_after_minutes is not None
        if now - alert.opened_at >= dt.timedelta(minutes=alert.rule.escalate_after_minutes):
            escalated += alert_escalate(alert=alert, at=now)
    return escalated


def stale_rules_resolve(*, organization_id: int, now: dt.datetime) -> int:
    """Open alerts whose rule was disabled or deleted end as such."""
    require_organization(organization_id)
    stale = (
        Alert.objects.filter(organization_id=organization_id)
        .exclude(status=Alert.Status.RESOLVED)
        .filter(Q(rule__isnull=True) | Q(rule__enabled=False))
    )
    return sum(
        alert_resolve(alert=a, at=now, resolution=Alert.Resolution.RULE_DISABLED) for a in stale
    )


def organization_sweep(*, organization_id: int, now: dt.datetime | None = None) -> dict[str, int]:
    """One organization's sweep; each rule in its own short transaction."""
    require_organization(organization_id)
    now = now or timezone.now()
    org = org_rules_load(organization_id)
    totals = {"opened": 0, "updated": 0, "resolved": 0, "escalated": 0}
    for loaded in org.rules:
        entry = FINDERS.get(loaded.rule.kind)
        if entry is None:
            continue
        finder, opens = entry
        with transaction.atomic():
            counts = sweep_apply(loaded, finder(org, loaded, now), now, opens=opens)
        for key, value in counts.items():
            totals[key] += value
    with transaction.atomic():
        totals["resolved"] += stale_rules_resolve(organization_id=organization_id, now=now)
        totals["escalated"] = escalations_apply(organization_id=organization_id, now=now)
    return totals


__all__ = ["FINDERS", "organization_sweep", "sweep_apply"]
