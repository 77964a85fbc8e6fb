"""Sending email notifications and the daily digest, once each.

A send locks its Notification row, re-checks that it is still pending and due, sends, and
marks it sent in the same transaction: a second task for the same row (a redelivered message,
a retry, the minute tick) waits for the lock and then finds it sent. The SMTP conversation is
the one thing that cannot be rolled back: a worker killed after the server accepted the
message and before the commit sends it again on retry, with the same Message-ID (derived from
the row's key), so mail clients show it once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import zoneinfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tenancy.context import require_organization
from tenancy.models import Organization

from ..models import Alert, Channel, Notification, NotificationPreference, Severity
from .planning import digest_day_due

logger = logging.getLogger(__name__)
Status = Notification.Status
ERROR_MAX_CHARS = 300
LOST_AFTER = dt.timedelta(minutes=2)


def message_id(key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{settings.DOORSTEP_EMAIL_MESSAGE_ID_DOMAIN}>"


def _email(notification: Notification) -> EmailMessage:
    recipient = notification.recipient
    assert recipient is not None
    return EmailMessage(
        subject=notification.subject,
        body=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient.email],
        headers={"Message-ID": message_id(notification.key), "X-Doorstep-Key": notification.key},
    )


def _storm_body(notification: Notification) -> None:
    """A storm email counts the whole window, known only once it has closed."""
    parts = notification.key.split(":")
    rule_id, start = int(parts[1]), dt.datetime.fromtimestamp(int(parts[2]), tz=dt.UTC)
    end = start + dt.timedelta(seconds=settings.ALERTS_STORM_WINDOW_SECONDS)
    alerts = list(
        Alert.objects.filter(
            organization_id=notification.organization_id,
            rule_id=rule_id,
            opened_at__gte=start,
            opened_at__lt=end,
        ).order_by("opened_at")[:50]
    )
    total = Alert.objects.filter(
        organization_id=notification.organization_id,
        rule_id=rule_id,
        opened_at__gte=start,
        opened_at__lt=end,
    ).count()
    lines = [f"{total} alerts opened within {settings.ALERTS_STORM_WINDOW_SECONDS} s:", ""]
    lines += [
        f"- [{Severity(a.severity).label}] {a.title} {a.subject_label}".rstrip() for a in alerts
    ]
    if total > len(alerts):
        lines.append(f"... and {total - len(alerts)} more")
    lines += ["", f"Inbox: {settings.DOORSTEP_PUBLIC_URL}/alerts/"]
    notification.subject = f"[Storm] {total} alerts: {alerts[0].title if alerts else ''}"[:200]
    notification.body = "\n".join(lines)


def notification_email_send(*, organization_id: int, key: str) -> bool:
    """Send one pending, due email notification; True when it was sent now. Raises OSError
    (for the task's retry) when the mail server failed, after recording the attempt."""
    require_organization(organization_id)
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("recipient")
            .filter(organization_id=organization_id, key=key, channel=Channel.EMAIL)
            .first()
        )
        if notification is None or notification.status != Status.PENDING:
            return False
        now = timezone.now()
        if notification.send_after and notification.send_after > now:
            return False  # quiet hours or a storm window: the minute tick sends it when due
        if notification.recipient is None or not notification.recipient.email:
            notification.status, notification.error = Status.FAILED, "no e-mail address"
            notification.save(update_fields=["status", "error"])
            return False
        if key.startswith("storm:"):
            _storm_body(notification)
        notification.attempts += 1
        failure: OSError | None = None
        try:
            _email(notification).send()
        except OSError as exc:  # smtplib's errors are OSErrors
            failure = exc
            notification.error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
            if notification.attempts >= settings.ALERTS_EMAIL_MAX_ATTEMPTS:
                notification.status = Status.FAILED
            notification.save(update_fields=["attempts", "error", "status"])
        else:
            notification.status, notification.sent_at, notification.error = Status.SENT, now, ""
            notification.save(
                update_fields=["status", "sent_at", "error", "attempts", "subject", "body"]
            )
    # Raised after the commit, so the attempt is recorded; the task retries while pending.
    if failure is not None and notification.status == Status.PENDING:
        raise failure
    if failure is not None:
        logger.warning("alerts: email %s failed for good: %s", key, notification.error)
        return False
    return True


def notifications_due_keys(*, organization_id: int, now: dt.datetime | None = None) -> list[str]:
    """Pending emails whose time has come (quiet hours over, storm window closed)."""
    require_organization(organization_id)
    now = now or timezone.now()
    # Rows without a send time were enqueued on commit; after a while, the message was lost.
    lost = Q(send_after__isnull=True, created_at__lte=now - LOST_AFTER)
    return list(
        Notification.objects.filter(
            Q(send_after__lte=now) | lost,
            organization_id=organization_id,
            channel=Channel.EMAIL,
            status=Status.PENDING,
        )
        .order_by("send_after")
        .values_list("key", flat=True)[:500]
    )


def notification_digests_build(
    *, organization_id: int, now: dt.datetime | None = None
) -> list[str]:
    """Create today's digest email for each person in digest mode whose digest hour has come
    and who has alerts waiting; returns the digests' keys (to send). One per person and local
    day, by key; the alerts it lists are marked as included."""
    require_organization(organization_id)
    now = now or timezone.now()
    organization = Organization.objects.get(pk=organization_id)
    zone = zoneinfo.ZoneInfo(organization.timezone)
    keys = []
    prefs = NotificationPreference.objects.filter(
        organization_id=organization_id, email_mode=NotificationPreference.EmailMode.DIGEST
    )
    for pref in prefs:
        day = digest_day_due(now=now, digest_hour=pref.digest_hour, time_zone=organization.timezone)
        if day is None:
            continue
        key = f"digest:{pref.user_id}:{day.isoformat()}"
        waiting = Notification.objects.filter(
            organization_id=organization_id,
            recipient_id=pref.user_id,
            channel=Channel.EMAIL,
            status=Status.DIGESTED,
            sent_at__isnull=True,
            created_at__lte=now,
        ).select_related("alert")
        items = list(waiting.order_by("created_at")[:500])
        if (
            not items
            or Notification.objects.filter(organization_id=organization_id, key=key).exists()
        ):
            continue
        user = get_user_model().objects.get(pk=pref.user_id)
        lines = [f"Your Doorstep alerts digest for {day:%A %d %B %Y} ({organization.name})", ""]
        for item in items:
            local = item.created_at.astimezone(zone)
            lines.append(f"- {local:%H:%M} {item.subject}")
        lines += ["", f"Inbox: {settings.DOORSTEP_PUBLIC_URL}/alerts/"]
        Notification.objects.create(
            organization_id=organization_id,
            recipient=user,
            channel=Channel.EMAIL,
            key=key,
            subject=f"Doorstep digest: {len(items)} alert notification(s) for {day:%d %b}",
            body="\n".join(lines),
            status=Status.PENDING,
        )
        Notification.objects.filter(pk__in=[item.pk for item in items]).update(sent_at=now)
        keys.append(key)
    return keys
