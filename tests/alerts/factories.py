"""Alerts for tests, opened the way the engine opens them: the row, its "opened" timeline line
and an `alert.opened` outbox event with the snapshot payload, in one transaction inside the
organization's context. Reusable by the end-to-end tests (inbox, notifications, benchmark)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.db import transaction
from django.utils import timezone

from alerts.models import Alert, AlertEvent, AlertRule, Channel, RuleKind, Severity
from alerts.services.actions import alert_snapshot
from tenancy.context import tenant_context
from tenancy.models import Role
from tenancy.outbox import outbox_emit

_subjects = itertools.count(1)


def rule_create(organization_id: int, **fields: Any) -> AlertRule:
    values: dict[str, Any] = {
        "name": "Speeding over 90",
        "kind": RuleKind.SPEEDING,
        "severity": Severity.WARNING,
        "params": {"limit_kmh": 90},
        "channels": [Channel.IN_APP, Channel.EMAIL],
        "recipient_roles": [Role.DISPATCHER],
        "cooldown_seconds": 0,
    }
    values.update(fields)
    with tenant_context(organization_id):
        return AlertRule.objects.create(organization_id=organization_id, **values)


def alert_open(
    organization_id: int,
    *,
    rule: AlertRule | None = None,
    severity: int | None = None,
    title: str = "Speeding 112 km/h",
    vehicle_id: int | None = None,
    hub_id: int | None = None,
    subject_id: int | None = None,
    subject_label: str = "",
    opened_at: dt.datetime | None = None,
    latitude: float | None = 52.37,
    longitude: float | None = 4.89,
    emit: bool = True,
    details: dict[str, Any] | None = None,
) -> Alert:
    """Open one alert (one episode) and announce it, as alerts/services/episodes.py does."""
    rule = rule or rule_create(organization_id)
    now = opened_at or timezone.now()
    with tenant_context(organization_id), transaction.atomic():
        alert = Alert.objects.create(
            organization_id=organization_id,
            rule=rule,
            kind=rule.kind,
            severity=severity if severity is not None else rule.severity,
            subject_type="vehicle",
            subject_id=subject_id or vehicle_id or next(_subjects) + 10_000_000,
            subject_label=subject_label,
            vehicle_id=vehicle_id,
            hub_id=hub_id,
            latitude=latitude,
            longitude=longitude,
            title=title,
            details=details or {"peak_kmh": 112},
            condition_started_at=now,
            opened_at=now,
            last_evaluated_at=now,
        )
        AlertEvent.objects.create(
            organization_id=organization_id, alert=alert, at=now, kind=AlertEvent.Kind.OPENED
        )
        if emit:
            outbox_emit(
                organization_id=organization_id,
                kind="alert.opened",
                aggregate="alert",
                aggregate_id=alert.pk,
                payload=alert_snapshot(alert),
            )
    return alert


def alert_close(alert: Alert, *, kind: str = "alert.resolved") -> Alert:
    """Resolve (condition cleared) or escalate an alert as the engine does."""
    now = timezone.now()
    with tenant_context(alert.organization_id), transaction.atomic():
        if kind == "alert.resolved":
            alert.status = Alert.Status.RESOLVED
            alert.resolved_at = now
            alert.resolution = Alert.Resolution.CLEARED
            event_kind = AlertEvent.Kind.RESOLVED
        else:
            alert.escalated_at = now
            event_kind = AlertEvent.Kind.ESCALATED
        alert.save()
        AlertEvent.objects.create(
            organization_id=alert.organization_id, alert=alert, at=now, kind=event_kind
        )
        outbox_emit(
            organization_id=alert.organization_id,
            kind=kind,
            aggregate="alert",
            aggregate_id=alert.pk,
            payload=alert_snapshot(alert),
        )
    return alert
