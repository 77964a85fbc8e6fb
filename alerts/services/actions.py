"""What people do with an alert: acknowledge, assign, snooze, note, resolve.

Each action locks the alert row, checks the transition, writes the change, one timeline line
(`AlertEvent`, with who did it) and an outbox event (`alert.acknowledged`, `alert.assigned`,
`alert.snoozed`, `alert.noted`, `alert.resolved`) in one transaction. Who acts is a console user
or an API token (an integration: a ticketing or on-call system with the `alerts` scope); a token
is recorded on the timeline as "API token <name>" and leaves the alert's user columns
(`acknowledged_by`, `resolved_by`) empty. The inbox websocket
subscriber pushes those events to every screen of the organization; `alert.resolved` also
reaches the notification and webhook subscribers, exactly as when the condition clears.

A resolved alert is final: when its condition still (or again) holds, the engine opens a new
episode; reopening would blur time-to-resolve figures, so there is no reopen action.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tenancy.api.models import ApiToken
from tenancy.context import require_organization
from tenancy.errors import Conflict
from tenancy.models import Membership
from tenancy.outbox import outbox_emit
from tenancy.permissions import CONSOLE_ROLES

from ..models import Alert, AlertEvent

Status = Alert.Status
MAX_SNOOZE = dt.timedelta(days=7)
NOTE_MAX_CHARS = 2000

ALERT_ACKNOWLEDGED = "alert.acknowledged"
ALERT_ASSIGNED = "alert.assigned"
ALERT_SNOOZED = "alert.snoozed"
ALERT_NOTED = "alert.noted"
ALERT_RESOLVED = "alert.resolved"
ACTION_KINDS = (ALERT_ACKNOWLEDGED, ALERT_ASSIGNED, ALERT_SNOOZED, ALERT_NOTED, ALERT_RESOLVED)


# Who acts on an alert: a console user, or an integration's API token.
Actor = AbstractBaseUser | ApiToken


def _user_id(actor: Actor) -> int | None:
    return None if isinstance(actor, ApiToken) else actor.pk


def actor_name(actor: Actor) -> str:
    if isinstance(actor, ApiToken):
        return f"API token {actor.name}"
    return getattr(actor, "get_full_name", lambda: "")() or actor.get_username()


class AlertActionError(Conflict):
    """An action that this alert's state does not allow, in words for the dispatcher. A
    Conflict: the API answers 409 with `{"detail": message, "code": code}`."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, extra={"code": code})
        self.code = code


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def alert_snapshot(alert: Alert) -> dict[str, Any]:
    """The alert as every alert.* outbox payload and the inbox screens carry it (JSON-safe):
    the engine's opened / updated / resolved events and the people's actions alike."""
    assignee = alert.assignee
    return {
        "id": alert.pk,
        "rule_id": alert.rule_id,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": alert.status,
        "subject": {"type": alert.subject_type, "id": alert.subject_id},
        "subject_label": alert.subject_label,
        "title": alert.title,
        "hub_id": alert.hub_id,
        "vehicle_id": alert.vehicle_id,
        "route_id": alert.route_id,
        "order_id": alert.order_id,
        "latitude": alert.latitude,
        "longitude": alert.longitude,
        "condition_started_at": _iso(alert.condition_started_at),
        "opened_at": _iso(alert.opened_at),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "escalated_at": _iso(alert.escalated_at),
        "assignee_id": alert.assignee_id,
        "assignee_name": (assignee.get_full_name() or assignee.get_username()) if assignee else "",
        "snoozed_until": _iso(alert.snoozed_until),
        "resolved_at": _iso(alert.resolved_at),
        "resolution": alert.resolution,
        "details": alert.details,
    }


def _locked(organization_id: int, alert_id: int, hub_ids: list[int] | tuple[int, ...]) -> Alert:
    """The alert, row-locked; Alert.DoesNotExist (a 404) when it is foreign or outside the
    acting person's hubs."""
    alerts = Alert.objects.select_for_update().filter(organization_id=organization_id)
    if hub_ids:
        alerts = alerts.filter(hub_id__in=hub_ids)
    return alerts.get(pk=alert_id)


def _not_resolved(alert: Alert) -> None:
    if alert.status == Status.RESOLVED:
        raise AlertActionError("This alert is already resolved.", code="resolved")


def _record(
    alert: Alert,
    *,
    kind: str,
    outbox_kind: str,
    actor: Actor,
    now: dt.datetime,
    note: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    AlertEvent.objects.create(
        organization_id=alert.organization_id,
        alert=alert,
        at=now,
        kind=kind,
        actor_id=_user_id(actor),
        actor_token_id=actor.pk if isinstance(actor, ApiToken) else None,
        note=note,
        details=details or {},
    )
    payload = alert_snapshot(alert)
    payload["actor_id"] = _user_id(actor)
    payload["actor_token_id"] = actor.pk if isinstance(actor, ApiToken) else None
    payload["actor_name"] = actor_name(actor)
    outbox_emit(
        organization_id=alert.organization_id,
        kind=outbox_kind,
        aggregate="alert",
        aggregate_id=alert.pk,
        payload=payload,
    )


def _clean_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX_CHARS:
        raise AlertActionError(
            f"A note is at most {NOTE_MAX_CHARS} characters long.", code="note_too_long"
        )
    return note


def alert_acknowledge(
    *,
    organization_id: int,
    alert_id: int,
    actor: Actor,
    hub_ids: list[int] | tuple[int, ...] = (),
    note: str = "",
) -> Alert:
    """open -> acknowledged: someone is on it. Stops the escalation clock."""
    require_organization(organization_id)
    note = _clean_note(note)
    with transaction.atomic():
        alert = _locked(organization_id, alert_id, hub_ids)
        _not_resolved(alert)
        if alert.status == Status.ACKNOWLEDGED:
            raise AlertActionError("This alert is already acknowledged.", code="acknowledged")
        now = timezone.now()
        alert.status = Status.ACKNOWLEDGED
        alert.acknowledged_at = now
        alert.acknowledged_by_id = _user_id(actor)
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "updated_at"])
        _record(
            alert,
            kind=AlertEvent.Kind.ACKNOWLEDGED,
            outbox_kind=ALERT_ACKNOWLEDGED,
            actor=actor,
            now=now,
            note=note,
            details={"seconds_to_acknowledge": round((now - alert.opened_at).total_seconds())},
        )
    return alert


def _assignable(organization_id: int, user_id: int) -> AbstractBaseUser:
    membership = (
        Membership.objects.filter(
            organization_id=organization_id, user_id=user_id, role__in=CONSOLE_ROLES
        )
        .select_related("user")
        .first()
    )
    if membership is None or not membership.user.is_active:
        raise AlertActionError(
            "Alerts can be assigned only to active console users of this organization.",
            code="bad_assignee",
        )
    return membership.user


def alert_assign(
    *,
    organization_id: int,
    alert_id: int,
    actor: Actor,
    assignee_id: int | None,
    hub_ids: list[int] | tuple[int, ...] = (),
) -> Alert:
    """Give the alert to one person (None: unassign). Assigning does not acknowledge."""
    require_organization(organization_id)
    with transaction.atomic():
        alert = _locked(organization_id, alert_id, hub_ids)
        _not_resolved(alert)
        assignee = _assignable(organization_id, assignee_id) if assignee_id else None
        if alert.assignee_id == (assignee.pk if assignee else None):
            raise AlertActionError(
                "This alert is already assigned that way.", code="unchanged_assignee"
            )
        previous = alert.assignee_id
        alert.assignee = assignee  # type: ignore[assignment]
        alert.save(update_fields=["assignee", "updated_at"])
        _record(
            alert,
            kind=AlertEvent.Kind.ASSIGNED,
            outbox_kind=ALERT_ASSIGNED,
            actor=actor,
            now=timezone.now(),
            details={"assignee_id": alert.assignee_id, "previous_assignee_id": previous},
        )
    return alert


def alert_snooze(
    *,
    organization_id: int,
    alert_id: int,
    actor: Actor,
    until: dt.datetime | None,
    hub_ids: list[int] | tuple[int, ...] = (),
) -> Alert:
    """Hide the alert from the working list until `until` (None: wake it now). At most a
    week: a snooze is a "not now", a longer silence belongs in the rule."""
    require_organization(organization_id)
    now = timezone.now()
    if until is not None:
        if timezone.is_naive(until):
            raise AlertActionError("The snooze time needs a time zone.", code="naive_time")
        if until <= now:
            raise AlertActionError("Snooze until a time in the future.", code="past")
        if until - now > MAX_SNOOZE:
            raise AlertActionError("An alert can be snoozed for at most 7 days.", code="too_long")
    with transaction.atomic():
        alert = _locked(organization_id, alert_id, hub_ids)
        _not_resolved(alert)
        if until is None and (alert.snoozed_until is None or alert.snoozed_until <= now):
            raise AlertActionError("This alert is not snoozed.", code="not_snoozed")
        alert.snoozed_until = until
        alert.save(update_fields=["snoozed_until", "updated_at"])
        _record(
            alert,
            kind=AlertEvent.Kind.SNOOZED,
            outbox_kind=ALERT_SNOOZED,
            actor=actor,
            now=now,
            details={"until": _iso(until)},
        )
    return alert


def alert_note_add(
    *,
    organization_id: int,
    alert_id: int,
    actor: Actor,
    note: str,
    hub_ids: list[int] | tuple[int, ...] = (),
) -> Alert:
    """A line on the timeline ("called the driver, flat tyre"). Allowed on resolved alerts
    too: the post-mortem belongs with the episode."""
    require_organization(organization_id)
    note = _clean_note(note)
    if not note:
        raise AlertActionError("Write a note first.", code="empty_note")
    with transaction.atomic():
        alert = _locked(organization_id, alert_id, hub_ids)
        alert.save(update_fields=["updated_at"])  # its timeline (the alert's detail) grew
        _record(
            alert,
            kind=AlertEvent.Kind.NOTE,
            outbox_kind=ALERT_NOTED,
            actor=actor,
            now=timezone.now(),
            note=note,
        )
    return alert


def alert_resolve(
    *,
    organization_id: int,
    alert_id: int,
    actor: Actor,
    note: str = "",
    hub_ids: list[int] | tuple[int, ...] = (),
) -> Alert:
    """Close the episode by hand (open or acknowledged -> resolved, resolution "manual")."""
    require_organization(organization_id)
    note = _clean_note(note)
    with transaction.atomic():
        alert = _locked(organization_id, alert_id, hub_ids)
        _not_resolved(alert)
        now = timezone.now()
        alert.status = Status.RESOLVED
        alert.resolved_at = now
        alert.resolved_by_id = _user_id(actor)
        alert.resolution = Alert.Resolution.MANUAL
        alert.snoozed_until = None
        alert.save(
            update_fields=[
                "status", "resolved_at", "resolved_by", "resolution", "snoozed_until", "updated_at",
            ]
        )  # fmt: skip
        _record(
            alert,
            kind=AlertEvent.Kind.RESOLVED,
            outbox_kind=ALERT_RESOLVED,
            actor=actor,
            now=now,
            note=note,
            details={
                "resolution": Alert.Resolution.MANUAL,
                "seconds_to_resolve": round((now - alert.opened_at).total_seconds()),
            },
        )
    return alert
