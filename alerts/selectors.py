"""Reads of alerts for the inbox, the detail page, the navigation badge and the map."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from tenancy.context import require_organization
from tenancy.models import Membership
from tenancy.permissions import CONSOLE_ROLES

from .models import Alert, AlertEvent, AlertRule, Channel, Notification

Status = Alert.Status
ACTIVE_STATUSES = (Status.OPEN, Status.ACKNOWLEDGED)
# Inbox "status" filter values: the working list hides snoozed alerts until they wake.
STATUS_FILTERS = ("active", "open", "acknowledged", "snoozed", "resolved", "all")
AGE_FILTERS = {"15m": 15, "1h": 60, "4h": 240, "24h": 1440}
INBOX_LIMIT = 500


@dataclass(frozen=True)
class AlertFilters:
    """The inbox's filters, already validated (alerts/filtersets.py builds them)."""

    status: str = "active"
    severities: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    hub_ids: tuple[int, ...] = ()
    assignee: str = ""  # "", "me", "none" or a user id
    older_than_minutes: int | None = None
    # The REST API's extra filters (alerts/api/): which vehicles, and when the episode opened.
    vehicle_ids: tuple[int, ...] = ()
    opened_after: dt.datetime | None = None
    opened_before: dt.datetime | None = None
    # A client syncing the alerts: those the engine or a person changed at or after it.
    updated_since: dt.datetime | None = None


def _scoped(organization_id: int, hub_ids: list[int] | tuple[int, ...]) -> QuerySet[Alert]:
    alerts = Alert.objects.filter(organization_id=organization_id)
    # A hub-scoped dispatcher sees only their hubs' alerts (an alert with no hub is nobody's
    # in particular: the unscoped members see it).
    return alerts.filter(hub_id__in=hub_ids) if hub_ids else alerts


def alert_list(
    *,
    organization_id: int,
    hub_ids: list[int] | tuple[int, ...] = (),
    filters: AlertFilters | None = None,
    user_id: int | None = None,
    now: dt.datetime | None = None,
) -> QuerySet[Alert]:
    """The inbox: most severe first, then oldest first (what has waited longest)."""
    require_organization(organization_id)
    filters = filters or AlertFilters()
    now = now or timezone.now()
    alerts = _scoped(organization_id, hub_ids).select_related("assignee", "acknowledged_by")
    awake = Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now)
    status = filters.status
    if status == "active":
        alerts = alerts.filter(awake, status__in=ACTIVE_STATUSES)
    elif status == "snoozed":
        alerts = alerts.filter(status__in=ACTIVE_STATUSES, snoozed_until__gt=now)
    elif status in (Status.OPEN, Status.ACKNOWLEDGED, Status.RESOLVED):
        alerts = alerts.filter(status=status)
    if filters.severities:
        alerts = alerts.filter(severity__in=filters.severities)
    if filters.kinds:
        alerts = alerts.filter(kind__in=filters.kinds)
    if filters.hub_ids:
        alerts = alerts.filter(hub_id__in=filters.hub_ids)
    if filters.assignee == "me" and user_id:
        alerts = alerts.filter(assignee_id=user_id)
    elif filters.assignee == "none":
        alerts = alerts.filter(assignee__isnull=True)
    elif filters.assignee.isdigit():
        alerts = alerts.filter(assignee_id=int(filters.assignee))
    if filters.older_than_minutes:
        alerts = alerts.filter(
            opened_at__lte=now - dt.timedelta(minutes=filters.older_than_minutes)
        )
    if filters.vehicle_ids:
        alerts = alerts.filter(vehicle_id__in=filters.vehicle_ids)
    if filters.opened_after:
        alerts = alerts.filter(opened_at__gte=filters.opened_after)
    if filters.opened_before:
        alerts = alerts.filter(opened_at__lt=filters.opened_before)
    if filters.updated_since:
        alerts = alerts.filter(updated_at__gte=filters.updated_since)
    if status == Status.RESOLVED:
        return alerts.order_by("-resolved_at", "-id")
    return alerts.order_by("-severity", "opened_at", "id")


def alert_open_count(*, organization_id: int, hub_ids: list[int] | tuple[int, ...] = ()) -> int:
    """The navigation badge: alerts still needing someone (open or acknowledged, snoozed
    included: snoozing is not solving). One count on the (organization, status, ...) index."""
    require_organization(organization_id)
    return _scoped(organization_id, hub_ids).filter(status__in=ACTIVE_STATUSES).count()


def alert_get(
    *, organization_id: int, alert_id: int, hub_ids: list[int] | tuple[int, ...] = ()
) -> Alert:
    """One alert the member may see; Alert.DoesNotExist otherwise (foreign, other hub)."""
    require_organization(organization_id)
    return (
        _scoped(organization_id, hub_ids)
        .select_related("rule", "assignee", "acknowledged_by", "resolved_by")
        .get(pk=alert_id)
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str
    label: str
    actor: str
    note: str
    details: dict[str, Any]


def _name(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def alert_timeline(*, organization_id: int, alert: Alert) -> list[TimelineEntry]:
    """What happened to the alert, in order: its events, and whom it notified (one line per
    notification moment: channel and names together)."""
    require_organization(organization_id)
    events = AlertEvent.objects.filter(organization_id=organization_id, alert=alert)
    entries = [
        TimelineEntry(
            at=event.at,
            kind=event.kind,
            label=event.get_kind_display(),
            actor=_name(event.actor)
            or (f"API token {event.actor_token.name}" if event.actor_token else ""),
            note=event.note,
            details=event.details,
        )
        for event in events.select_related("actor", "actor_token")
    ]
    notifications = Notification.objects.filter(
        organization_id=organization_id, alert=alert
    ).select_related("recipient")
    grouped: dict[tuple[str, str, str], list[Notification]] = {}
    for item in notifications.order_by("created_at", "id"):
        parts = item.key.split(":")
        phase = "storm" if parts[0] == "storm" else (parts[2] if len(parts) > 2 else "")
        grouped.setdefault((phase, item.channel, item.status), []).append(item)
    channel_names = dict(Channel.choices)
    for (phase, channel, status), items in grouped.items():
        names = sorted({_name(n.recipient) or "webhook endpoints" for n in items})
        entries.append(
            TimelineEntry(
                at=items[0].created_at,
                kind="notified",
                label=f"Notified by {channel_names.get(channel, channel).lower()}"
                + (f" ({phase})" if phase and phase != "opened" else ""),
                actor="",
                note=", ".join(names),
                details={"status": status, "count": len(items)},
            )
        )
    entries.sort(key=lambda entry: entry.at)
    return entries


def alert_map_markers(
    *, organization_id: int, hub_ids: list[int] | tuple[int, ...] = ()
) -> list[dict[str, Any]]:
    """Active alerts with a position, for the live map's alert layer."""
    require_organization(organization_id)
    rows = (
        _scoped(organization_id, hub_ids)
        .filter(status__in=ACTIVE_STATUSES, latitude__isnull=False, longitude__isnull=False)
        .order_by("-severity", "opened_at")
        .values("id", "severity", "status", "title", "kind", "vehicle_id", "latitude", "longitude")[
            :INBOX_LIMIT
        ]
    )
    return [dict(row) for row in rows]


def assignee_choices(*, organization_id: int) -> list[tuple[int, str]]:
    """Console users an alert can be given to, by name."""
    require_organization(organization_id)
    user_ids = Membership.objects.filter(
        organization_id=organization_id, role__in=CONSOLE_ROLES
    ).values_list("user_id", flat=True)
    users = get_user_model().objects.filter(pk__in=list(user_ids), is_active=True)
    return sorted(((user.pk, _name(user)) for user in users), key=lambda pair: pair[1].lower())


def notification_unread_count(*, organization_id: int, user_id: int) -> int:
    require_organization(organization_id)
    return Notification.objects.filter(
        organization_id=organization_id,
        recipient_id=user_id,
        channel=Channel.IN_APP,
        read_at__isnull=True,
    ).count()


def notification_list_for_user(
    *, organization_id: int, user_id: int, limit: int = 200
) -> list[Notification]:
    require_organization(organization_id)
    return list(
        Notification.objects.filter(
            organization_id=organization_id, recipient_id=user_id, channel=Channel.IN_APP
        )
        .select_related("alert")
        .order_by("-created_at", "-id")[:limit]
    )


def email_outbox_list(*, organization_id: int, limit: int = 200) -> list[Notification]:
    """Every email the organization's alerts produced, newest first (the admins' outbox)."""
    require_organization(organization_id)
    return list(
        Notification.objects.filter(organization_id=organization_id, channel=Channel.EMAIL)
        .select_related("recipient", "alert")
        .order_by("-created_at", "-id")[:limit]
    )


def alert_rule_list(*, organization_id: int) -> list[AlertRule]:
    require_organization(organization_id)
    return list(AlertRule.objects.filter(organization_id=organization_id).order_by("kind", "name"))
