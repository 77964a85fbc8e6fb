"""The "alerts-notifications" outbox subscriber: alert.opened, alert.escalated and
alert.resolved become Notification rows, one per recipient and channel.

Quick and idempotent, as the outbox asks: database writes only, keyed rows created with
ignore_conflicts (a redelivered event creates nothing new), emails sent by a task queued on
commit. Who hears of what:

- opened: the rule's recipient roles (and recipient hubs); escalated: the next role up;
  resolved: whoever heard of the opening or the escalation ("episode ended", on the same
  channels), so nobody is left wondering whether it is still going on.
- each person once per alert, phase and channel (the key), whatever matched them;
- their preferences: a minimum severity, email off / immediate / daily digest, quiet hours
  (an email waits for their end; critical alerts pass when the person allows it);
- storms: when more than ALERTS_STORM_THRESHOLD alerts of one rule open within
  ALERTS_STORM_WINDOW_SECONDS, the extra ones make one grouped message per person and window.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from tenancy.context import require_organization
from tenancy.models import Membership, Organization
from tenancy.outbox import outbox_subscribe
from tenancy.outbox.models import OutboxEvent

from ..models import Alert, AlertRule, Channel, Notification, NotificationPreference, Severity
from .planning import escalation_roles, quiet_hours_end, storm_window

NOTIFY_KINDS = {
    "alert.opened": "opened",
    "alert.escalated": "escalated",
    "alert.resolved": "resolved",
}
PERSON_CHANNELS = (Channel.IN_APP, Channel.EMAIL)  # webhooks: deliveries' subscriber
Status = Notification.Status


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def recipients_for(
    *, organization_id: int, alert: Alert, roles: list[str], hub_ids: list[int]
) -> list[Any]:
    """Active users with one of `roles` who may see the alert: unscoped members, or members
    scoped to the alert's hub; when the rule names hubs, members of those (or unscoped)."""
    require_organization(organization_id)
    memberships = list(
        Membership.objects.filter(organization_id=organization_id, role__in=roles)
        .select_related("user")
        .order_by("user_id")
    )
    through = Membership.hubs.through
    scopes: dict[int, set[int]] = {}
    for membership_id, hub_id in through.objects.filter(
        membership_id__in=[m.pk for m in memberships]
    ).values_list("membership_id", "hub_id"):
        scopes.setdefault(membership_id, set()).add(hub_id)
    wanted_hubs = set(hub_ids)
    users = {}
    for membership in memberships:
        scope = scopes.get(membership.pk, set())
        if scope and alert.hub_id not in scope:
            continue  # a hub-scoped member neither sees nor hears of other hubs' alerts
        if wanted_hubs and scope and not scope & wanted_hubs:
            continue
        if membership.user.is_active:
            users[membership.user_id] = membership.user
    return list(users.values())


def _preferences(organization_id: int, user_ids: list[int]) -> dict[int, NotificationPreference]:
    found = NotificationPreference.objects.filter(
        organization_id=organization_id, user_id__in=user_ids
    )
    return {pref.user_id: pref for pref in found}


def _default_preference(organization_id: int, user_id: int) -> NotificationPreference:
    return NotificationPreference(organization_id=organization_id, user_id=user_id)


def _text(alert: Alert, phase: str, organization: Organization) -> tuple[str, str]:
    severity = Severity(alert.severity).label
    verb = {"opened": "Alert", "escalated": "Escalated", "resolved": "Resolved"}[phase]
    subject = f"[{severity}] {verb}: {alert.title}"[:200]
    lines = [
        f"{verb}: {alert.title}",
        f"Severity: {severity}",
        f"Kind: {alert.get_kind_display()}",
    ]
    if alert.subject_label:
        lines.append(f"Subject: {alert.subject_label}")
    zone = zoneinfo.ZoneInfo(organization.timezone)
    lines.append(
        f"Opened: {alert.opened_at.astimezone(zone):%Y-%m-%d %H:%M} ({organization.timezone})"
    )
    if phase == "resolved" and alert.resolved_at:
        lines.append(
            f"Resolved: {alert.resolved_at.astimezone(zone):%Y-%m-%d %H:%M}"
            f" ({alert.get_resolution_display() or 'resolved'})"
        )
    for key, value in sorted((alert.details or {}).items()):
        if not isinstance(value, dict | list):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    lines.append("")
    lines.append(f"Open it in Doorstep: {settings.DOORSTEP_PUBLIC_URL}/alerts/{alert.pk}/")
    return subject, "\n".join(lines)


def _email_plan(
    pref: NotificationPreference, alert: Alert, now: dt.datetime, time_zone: str
) -> tuple[str, dt.datetime | None] | None:
    """(status, send_after) for an email to this person, or None for no email at all."""
    if pref.email_mode == NotificationPreference.EmailMode.OFF:
        return None
    if pref.email_mode == NotificationPreference.EmailMode.DIGEST:
        return Status.DIGESTED, None
    quiet_end = quiet_hours_end(
        now=now, start=pref.quiet_hours_start, end=pref.quiet_hours_end, time_zone=time_zone
    )
    if quiet_end and not (pref.quiet_hours_allow_critical and alert.severity >= Severity.CRITICAL):
        return Status.PENDING, quiet_end
    return Status.PENDING, None


def _send_on_commit(organization_id: int, keys: list[str]) -> None:
    from .tasks import notifications_send_enqueue

    if keys:
        transaction.on_commit(partial(notifications_send_enqueue, organization_id, keys))


def _in_storm(alert: Alert, rule: AlertRule) -> bool:
    seconds = settings.ALERTS_STORM_WINDOW_SECONDS
    recent = Alert.objects.filter(
        organization_id=alert.organization_id,
        rule=rule,
        opened_at__gt=alert.opened_at - dt.timedelta(seconds=seconds),
        opened_at__lte=alert.opened_at,
    ).count()
    return recent > settings.ALERTS_STORM_THRESHOLD


def _targets(
    organization_id: int, alert: Alert, rule: AlertRule, phase: str
) -> list[tuple[Any, str]]:
    """(user, channel) pairs this phase notifies."""
    if phase == "resolved":
        earlier = Notification.objects.filter(
            organization_id=organization_id,
            alert=alert,
            channel__in=PERSON_CHANNELS,
            recipient__isnull=False,
        ).exclude(status=Status.SUPPRESSED)
        known = get_user_model().objects.in_bulk(
            list(earlier.values_list("recipient_id", flat=True).distinct())
        )
        pairs = set(earlier.values_list("recipient_id", "channel"))
        return [(known[uid], channel) for uid, channel in sorted(pairs) if uid in known]
    roles = list(rule.recipient_roles)
    if phase == "escalated":
        roles = escalation_roles(roles)
    users = recipients_for(
        organization_id=organization_id, alert=alert, roles=roles, hub_ids=rule.recipient_hub_ids
    )
    channels = [c for c in PERSON_CHANNELS if c in rule.channels]
    return [(user, channel) for user in users for channel in channels]


def notification_outbox_handle(event: OutboxEvent) -> None:
    organization_id = event.organization_id
    require_organization(organization_id)
    phase = NOTIFY_KINDS.get(event.kind)
    alert_id = (event.payload or {}).get("id")
    if phase is None or not alert_id:
        return
    alert = (
        Alert.objects.filter(organization_id=organization_id, pk=alert_id)
        .select_related("rule")
        .first()
    )
    if alert is None or alert.rule is None:
        return
    rule = alert.rule
    organization = Organization.objects.get(pk=organization_id)
    targets = _targets(organization_id, alert, rule, phase)
    if not targets:
        return
    now = timezone.now()
    if phase == "opened" and _in_storm(alert, rule):
        _storm_notify(organization, alert, rule, targets, now)
        return
    prefs = _preferences(organization_id, [user.pk for user, _ in targets])
    subject, body = _text(alert, phase, organization)
    rows = []
    for user, channel in targets:
        pref = prefs.get(user.pk) or _default_preference(organization_id, user.pk)
        if phase != "resolved" and alert.severity < pref.min_severity:
            continue
        row = Notification(
            organization_id=organization_id,
            alert=alert,
            recipient=user,
            channel=channel,
            key=f"alert:{alert.pk}:{phase}:{channel}:{user.pk}",
            subject=subject,
            body=body,
        )
        if channel == Channel.IN_APP:
            row.status, row.sent_at = Status.SENT, now
        else:
            if not user.email:
                continue
            plan = _email_plan(pref, alert, now, organization.timezone)
            if plan is None:
                continue
            row.status, row.send_after = plan
        rows.append(row)
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    _send_on_commit(
        organization_id,
        [r.key for r in rows if r.channel == Channel.EMAIL and r.status == Status.PENDING
         and r.send_after is None],
    )  # fmt: skip


def _storm_notify(
    organization: Organization,
    alert: Alert,
    rule: AlertRule,
    targets: list[tuple[Any, str]],
    now: dt.datetime,
) -> None:
    """One grouped message per person, channel and storm window. In-app: the row's text is
    brought up to date with every alert; email: sent once the window has closed, listing all
    of the window's alerts (sending.py builds the text then)."""
    organization_id = organization.pk
    start, end = storm_window(alert.opened_at, seconds=settings.ALERTS_STORM_WINDOW_SECONDS)
    count = Alert.objects.filter(
        organization_id=organization_id, rule=rule, opened_at__gte=start, opened_at__lt=end
    ).count()
    subject = f"[Storm] {count} alerts of rule {rule.name}"[:200]
    body = (
        f'{count} alerts of the rule "{rule.name}" opened between {start:%H:%M:%S} and '
        f"{end:%H:%M:%S} UTC; the latest: {alert.title}.\n\n"
        f"See them all: {settings.DOORSTEP_PUBLIC_URL}/alerts/?kind={rule.kind}"
    )
    prefs = _preferences(organization_id, [user.pk for user, _ in targets])
    for user, channel in targets:
        pref = prefs.get(user.pk) or _default_preference(organization_id, user.pk)
        if alert.severity < pref.min_severity:
            continue
        key = f"storm:{rule.pk}:{int(start.timestamp())}:{channel}:{user.pk}"
        if channel == Channel.IN_APP:
            row, created = Notification.objects.get_or_create(
                organization_id=organization_id,
                key=key,
                defaults={"recipient": user, "channel": channel, "subject": subject,
                          "body": body, "status": Status.SENT, "sent_at": now, "alert": alert},
            )  # fmt: skip
            if not created and row.read_at is None:
                Notification.objects.filter(pk=row.pk).update(subject=subject, body=body)
            continue
        if not user.email:
            continue
        plan = _email_plan(pref, alert, now, organization.timezone)
        if plan is None:
            continue
        status, send_after = plan
        # The email waits for the window's end so that it counts the whole storm.
        Notification.objects.get_or_create(
            organization_id=organization_id,
            key=key,
            defaults={"recipient": user, "channel": channel, "subject": subject, "body": body,
                      "status": status, "alert": alert,
                      "send_after": max(send_after or end, end)},
        )  # fmt: skip


def notifications_subscribe() -> None:
    outbox_subscribe("alerts-notifications", list(NOTIFY_KINDS), notification_outbox_handle)
