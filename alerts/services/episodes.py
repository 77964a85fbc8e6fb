"""Opening, updating, resolving and escalating an alert episode. The evaluators call these; each
writes the alert, its timeline line and its outbox event in the caller's transaction (the
streaming runner commits them together with its cursor, so a batch re-run after a crash finds
the alert already there and the cursor not yet moved: nothing doubled, nothing lost).

Events (docs/alerts.md): `alert.opened`, `alert.updated` (the peak moved; at most one per
UPDATE_THROTTLE_SECONDS per alert), `alert.resolved`, `alert.escalated`, each with a snapshot."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.kinds.titles import alert_title
from alerts.models import Alert, AlertEvent, AlertRule
from tenancy.context import require_organization
from tenancy.outbox import outbox_emit, outbox_emit_many
from tenancy.outbox.models import OutboxEvent
from tenancy.outbox.services import EventSpec

from .actions import alert_snapshot

ALERT_OPENED = "alert.opened"
ALERT_UPDATED = "alert.updated"
ALERT_RESOLVED = "alert.resolved"
ALERT_ESCALATED = "alert.escalated"
ALERT_KINDS = (ALERT_OPENED, ALERT_UPDATED, ALERT_RESOLVED, ALERT_ESCALATED)
UPDATE_THROTTLE_SECONDS = 60


@dataclass(frozen=True)
class Subject:
    """What an alert is about, and the ids the inbox filters and the map centres on."""

    type: str
    id: int
    label: str = ""
    vehicle_id: int | None = None
    hub_id: int | None = None
    route_id: int | None = None
    order_id: int | None = None


@dataclass
class Finding:
    """A condition that holds for one subject, as an evaluator saw it."""

    subject: Subject
    condition_started_at: dt.datetime
    details: dict[str, Any] = field(default_factory=dict)
    latitude: float | None = None
    longitude: float | None = None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass
class Writes:
    """A batch's timeline lines, outbox events and alert row updates, held back and written
    in a few bulk statements by `flush` in the same transaction (the streaming runner: a
    speeding burst meets every speeding rule, and each of them opens, updates and resolves).
    Order is kept: events and outbox rows are inserted in the order they happened, each
    outbox payload is the alert's snapshot at that moment. An alert row that is resolved is
    saved at once (the partial unique index must see it resolved before the rule may open
    again for the subject); updates only mark it, and `flush` saves it once."""

    organization_id: int
    events: list[AlertEvent] = field(default_factory=list)
    outbox: list[EventSpec] = field(default_factory=list)
    dirty: dict[int, tuple[Alert, set[str]]] = field(default_factory=dict)

    def emit(self, alert: Alert, kind: str) -> None:
        snapshot = alert_snapshot(alert)
        snapshot["details"] = dict(snapshot["details"] or {})  # the moment's, not a later one
        self.outbox.append(EventSpec(kind=kind, aggregate="alert", aggregate_id=alert.pk,
                                     payload=snapshot))  # fmt: skip

    def save(self, alert: Alert, fields: list[str], *, now: bool) -> None:
        held = self.dirty.pop(alert.pk, None)
        merged = set(fields) | (held[1] if held else set()) | {"updated_at"}
        if now:
            alert.save(update_fields=sorted(merged))
        else:
            self.dirty[alert.pk] = (alert, merged)

    def flush(self) -> list[OutboxEvent]:
        """Write what is held; the outbox events written (ids assigned), in order."""
        for alert, fields in self.dirty.values():
            alert.save(update_fields=sorted(fields))
        self.dirty.clear()
        AlertEvent.objects.bulk_create(self.events, batch_size=500)
        self.events.clear()
        emitted = outbox_emit_many(organization_id=self.organization_id, events=self.outbox)
        self.outbox.clear()
        return emitted


def _emit(alert: Alert, kind: str, writes: Writes | None = None) -> None:
    if writes is not None:
        writes.emit(alert, kind)
        return
    outbox_emit(
        organization_id=alert.organization_id,
        kind=kind,
        aggregate="alert",
        aggregate_id=alert.pk,
        payload=alert_snapshot(alert),
    )


def _event(writes: Writes | None, **fields: Any) -> None:
    if writes is not None:
        writes.events.append(AlertEvent(**fields))
    else:
        AlertEvent.objects.create(**fields)


def alert_open_for(*, rule: AlertRule, subject: Subject) -> Alert | None:
    """The rule's one non-resolved alert for this subject, if any."""
    return (
        Alert.objects.filter(
            organization_id=rule.organization_id, rule=rule,
            subject_type=subject.type, subject_id=subject.id,
        )
        .exclude(status=Alert.Status.RESOLVED)
        .first()
    )  # fmt: skip


def cooldown_until(*, rule: AlertRule, subject: Subject, at: dt.datetime) -> dt.datetime | None:
    """When the rule may open again for this subject, if its last episode resolved within
    the cooldown before `at`; None when it may open now."""
    if not rule.cooldown_seconds:
        return None
    last = (
        Alert.objects.filter(
            organization_id=rule.organization_id, rule=rule, subject_type=subject.type,
            subject_id=subject.id, status=Alert.Status.RESOLVED,
            resolved_at__gt=at - dt.timedelta(seconds=rule.cooldown_seconds),
        )
        .order_by("-resolved_at")
        .values_list("resolved_at", flat=True)
        .first()
    )  # fmt: skip
    return last + dt.timedelta(seconds=rule.cooldown_seconds) if last else None


def cooldowns_for(*, rule: AlertRule, subject_type: str, at: dt.datetime) -> dict[int, dt.datetime]:
    """`cooldown_until` for every subject of the rule at once (the sweep's many findings)."""
    if not rule.cooldown_seconds:
        return {}
    window = dt.timedelta(seconds=rule.cooldown_seconds)
    rows = Alert.objects.filter(
        organization_id=rule.organization_id, rule=rule, subject_type=subject_type,
        status=Alert.Status.RESOLVED, resolved_at__gt=at - window,
    ).values_list("subject_id", "resolved_at")  # fmt: skip
    until: dict[int, dt.datetime] = {}
    for subject_id, resolved_at in rows:
        until[subject_id] = max(until.get(subject_id, resolved_at), resolved_at) + window
    return until


def alert_open(
    *, rule: AlertRule, finding: Finding, at: dt.datetime | None = None, known_absent: bool = False,
    writes: Writes | None = None,
) -> tuple[Alert, bool]:  # fmt: skip
    """Open the rule's alert for the finding's subject, or return the one already open (the
    re-run of a batch, a second sweep). The caller has checked active hours and cooldown;
    `known_absent`: the caller has just looked (the unique index still arbitrates)."""
    require_organization(rule.organization_id)
    at = at or timezone.now()
    subject = finding.subject
    existing = None if known_absent else alert_open_for(rule=rule, subject=subject)
    if existing is not None:
        return existing, False
    alert = Alert(
        organization_id=rule.organization_id, rule=rule, kind=rule.kind, severity=rule.severity,
        status=Alert.Status.OPEN, subject_type=subject.type, subject_id=subject.id,
        subject_label=subject.label[:160], vehicle_id=subject.vehicle_id, hub_id=subject.hub_id,
        route_id=subject.route_id, order_id=subject.order_id, latitude=finding.latitude,
        longitude=finding.longitude, title=alert_title(rule.kind, subject.label, finding.details)[:200],
        details=finding.details, condition_started_at=finding.condition_started_at,
        opened_at=at, last_evaluated_at=at,
    )  # fmt: skip
    try:
        with transaction.atomic():
            alert.save()
    except IntegrityError:
        # Another evaluator opened it between our look and our insert (the partial unique
        # index is the arbiter): theirs is the one.
        winner = alert_open_for(rule=rule, subject=subject)
        if winner is None:
            raise
        return winner, False
    _event(
        writes, organization_id=alert.organization_id, alert=alert, at=at,
        kind=AlertEvent.Kind.OPENED,
        details={"condition_started_at": _iso(finding.condition_started_at), **finding.details},
    )  # fmt: skip
    _emit(alert, ALERT_OPENED, writes)
    return alert, True


def alert_update(
    *, alert: Alert, details: dict[str, Any], at: dt.datetime,
    latitude: float | None = None, longitude: float | None = None, writes: Writes | None = None,
) -> bool:  # fmt: skip
    """New facts (a higher peak, a longer duration). The row always takes them; the timeline
    and the outbox hear of it at most once per UPDATE_THROTTLE_SECONDS, so a long speeding
    episode is one alert with a few updates, not one message per fix. True when emitted."""
    require_organization(alert.organization_id)
    last_emitted = alert.details.get("updated_emitted_at")
    due = (
        last_emitted is None
        or (at - dt.datetime.fromisoformat(last_emitted)).total_seconds() >= UPDATE_THROTTLE_SECONDS
    )
    if not due:
        return False  # the row catches up at the next emitted update or at the resolve
    merged = {**alert.details, **details, "updated_emitted_at": at.isoformat()}
    alert.details = merged
    alert.last_evaluated_at = at
    if latitude is not None:
        alert.latitude, alert.longitude = latitude, longitude
    alert.title = alert_title(alert.kind, alert.subject_label, merged)[:200]
    fields = ["details", "title", "last_evaluated_at", "latitude", "longitude", "updated_at"]
    if writes is not None:
        writes.save(alert, fields, now=False)
    else:
        alert.save(update_fields=fields)
    _event(
        writes, organization_id=alert.organization_id, alert=alert, at=at,
        kind=AlertEvent.Kind.UPDATED, details=details,
    )  # fmt: skip
    _emit(alert, ALERT_UPDATED, writes)
    return True


def alert_resolve(
    *, alert: Alert, at: dt.datetime, resolution: str = Alert.Resolution.CLEARED,
    details: dict[str, Any] | None = None, actor: Any = None, note: str = "",
    writes: Writes | None = None,
) -> bool:  # fmt: skip
    """Close the episode (condition cleared, rule disabled, or a person). False when it was
    already resolved."""
    require_organization(alert.organization_id)
    if alert.status == Alert.Status.RESOLVED:
        return False
    alert.status = Alert.Status.RESOLVED
    alert.resolved_at = at
    alert.resolution = resolution
    alert.resolved_by = actor
    alert.last_evaluated_at = at
    if details:
        alert.details = {**alert.details, **details}
        alert.title = alert_title(alert.kind, alert.subject_label, alert.details)[:200]
    fields = [
        "status", "resolved_at", "resolution", "resolved_by", "last_evaluated_at", "details",
        "title", "updated_at",
    ]  # fmt: skip
    if writes is not None:
        writes.save(alert, fields, now=True)
    else:
        alert.save(update_fields=fields)
    _event(
        writes, organization_id=alert.organization_id, alert=alert, at=at,
        kind=AlertEvent.Kind.RESOLVED, actor=actor, note=note,
        details={"resolution": resolution, **(details or {})},
    )  # fmt: skip
    _emit(alert, ALERT_RESOLVED, writes)
    return True


def alert_escalate(*, alert: Alert, at: dt.datetime) -> bool:
    """Unacknowledged past the rule's escalation time: mark it, note it, announce it (the
    notifications subscriber tells the next role up). Once per alert."""
    require_organization(alert.organization_id)
    updated = Alert.objects.filter(
        organization_id=alert.organization_id, pk=alert.pk, escalated_at__isnull=True,
        status=Alert.Status.OPEN,
    ).update(escalated_at=at, updated_at=timezone.now())  # fmt: skip
    if not updated:
        return False
    alert.escalated_at = at
    AlertEvent.objects.create(
        organization_id=alert.organization_id, alert=alert, at=at, kind=AlertEvent.Kind.ESCALATED,
        details={"after_minutes": alert.rule.escalate_after_minutes if alert.rule else None},
    )  # fmt: skip
    _emit(alert, ALERT_ESCALATED)
    return True
