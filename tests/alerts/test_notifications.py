"""Notifications: who hears of an alert, on which channel, when; email to a real SMTP server,
webhooks to a real HTTP receiver, storms, dedupe, quiet hours, digests, escalation."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from pytest_httpserver import HTTPServer

from alerts.models import Channel, Notification, NotificationPreference, Severity
from alerts.notifications.planning import (
    digest_day_due,
    escalation_roles,
    quiet_hours_end,
    storm_window,
)
from alerts.notifications.sending import (
    message_id,
    notification_digests_build,
    notification_email_send,
    notifications_due_keys,
)
from alerts.notifications.subscriber import notification_outbox_handle
from deliveries.models import WebhookDelivery, WebhookEndpoint
from deliveries.services.webhooks import webhook_delivery_attempt, webhook_signature_verify
from tenancy.context import tenant_context
from tenancy.models import Membership, Role
from tenancy.outbox.models import OutboxEvent
from tests.alerts.factories import alert_close, alert_open, rule_create
from tests.conftest import Tenant
from tests.support.outbox import outbox_relay_now
from tests.support.smtp import MailBox, smtp_server


@pytest.fixture
def tenant_a(tenant_a: Tenant) -> Tenant:
    """This module's tenants come with an open alert and its rule (tests/conftest.py)."""
    return tenant_a.alerts_build()


@pytest.fixture
def tenant_b(tenant_b: Tenant) -> Tenant:
    return tenant_b.alerts_build()


pytestmark = pytest.mark.django_db
Status = Notification.Status


@pytest.fixture
def mailbox(settings: Any) -> Iterator[MailBox]:
    with smtp_server() as box:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = box.host, box.port
        yield box


def with_emails(tenant: Tenant) -> None:
    with scopes_disabled():
        for role, user in tenant.users.items():
            user.email = f"{role}@{tenant.organization.slug}.example"
            user.save(update_fields=["email"])


def rows(tenant: Tenant, **filters: Any) -> list[Notification]:
    with scopes_disabled():
        return list(
            Notification.objects.filter(organization=tenant.organization, **filters).order_by("id")
        )


def preference(tenant: Tenant, role: str, **fields: Any) -> None:
    with scope(organization=tenant.organization.pk):
        NotificationPreference.objects.update_or_create(
            organization=tenant.organization, user=tenant.users[role], defaults=fields
        )


def send_all(tenant: Tenant) -> list[bool]:
    org = tenant.organization.pk
    with tenant_context(org):
        keys = [n.key for n in rows(tenant, channel=Channel.EMAIL, status=Status.PENDING)]
        return [notification_email_send(organization_id=org, key=key) for key in keys]


# --- Email to a real SMTP server ------------------------------------------------------------


def test_an_opened_alert_emails_its_recipients_once(tenant_a: Tenant, mailbox: MailBox) -> None:
    with_emails(tenant_a)
    org = tenant_a.organization.pk
    rule = rule_create(org, recipient_roles=[Role.DISPATCHER, Role.MANAGER])
    alert = alert_open(org, rule=rule, title="Speeding 131 km/h", subject_label="AB-12-CD")
    outbox_relay_now(org)
    emails = rows(tenant_a, channel=Channel.EMAIL)
    assert {n.recipient_id for n in emails} == {
        tenant_a.users[Role.DISPATCHER].pk,
        tenant_a.users[Role.MANAGER].pk,
    }
    in_app = rows(tenant_a, channel=Channel.IN_APP)
    assert len(in_app) == 2 and all(n.status == Status.SENT for n in in_app)

    assert send_all(tenant_a) == [True, True]
    assert send_all(tenant_a) == []  # sent: nothing pending any more
    with tenant_context(org):  # a retried task for a sent row sends nothing
        assert notification_email_send(organization_id=org, key=emails[0].key) is False
    received = mailbox.wait_for(2)
    assert len(received) == 2
    first = received[0]
    assert "Speeding 131 km/h" in first["Subject"]
    assert "[Warning]" in first["Subject"]
    body = first.get_body()
    assert body is not None
    text = body.get_content()
    assert "AB-12-CD" in text and f"/alerts/{alert.pk}/" in text
    assert first["Message-ID"] in {message_id(n.key) for n in emails}
    assert all(n.status == Status.SENT and n.sent_at for n in rows(tenant_a, channel="email"))


def test_an_unreachable_mail_server_is_recorded_and_retried(
    tenant_a: Tenant, settings: Any
) -> None:
    from tests.support.stack import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    with_emails(tenant_a)
    org = tenant_a.organization.pk
    alert_open(org)
    outbox_relay_now(org)
    (email,) = rows(tenant_a, channel=Channel.EMAIL)
    with tenant_context(org), pytest.raises(OSError):
        notification_email_send(organization_id=org, key=email.key)
    (email,) = rows(tenant_a, channel=Channel.EMAIL)
    assert email.status == Status.PENDING and email.attempts == 1
    assert "ConnectionRefused" in email.error


def test_the_episode_end_reaches_whoever_heard_of_the_start(
    tenant_a: Tenant, mailbox: MailBox
) -> None:
    with_emails(tenant_a)
    org = tenant_a.organization.pk
    alert = alert_open(org)
    outbox_relay_now(org)
    alert_close(alert)
    outbox_relay_now(org)
    keys = sorted(n.key.split(":")[2] + ":" + n.channel for n in rows(tenant_a))
    assert keys == ["opened:email", "opened:in_app", "resolved:email", "resolved:in_app"]
    send_all(tenant_a)
    subjects = [m["Subject"] for m in mailbox.wait_for(2)]
    assert any(s.startswith("[Warning] Resolved:") for s in subjects)


# --- Dedupe, scope, preferences ---------------------------------------------------------------


def test_a_redelivered_event_notifies_nobody_twice(tenant_a: Tenant) -> None:
    with_emails(tenant_a)
    org = tenant_a.organization.pk
    rule = rule_create(org, recipient_roles=[Role.DISPATCHER, Role.MANAGER, Role.ADMIN])
    alert = alert_open(org, rule=rule)
    with scopes_disabled():
        event = OutboxEvent.objects.get(aggregate="alert", aggregate_id=alert.pk)
    with tenant_context(org):
        notification_outbox_handle(event)
        notification_outbox_handle(event)  # the relay crashed before recording: seen twice
    outbox_relay_now(org)  # and the relay proper: a third time
    keys = [n.key for n in rows(tenant_a)]
    assert len(keys) == len(set(keys)) == 6  # 3 people x (in-app, email)


def test_hub_scoped_members_hear_only_of_their_hubs(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    dispatcher = tenant_a.users[Role.DISPATCHER]
    with scopes_disabled():
        Membership.objects.get(user=dispatcher, organization=tenant_a.organization).hubs.add(
            tenant_a.hub
        )
    rule = rule_create(org, channels=[Channel.IN_APP])
    alert_open(org, rule=rule, hub_id=tenant_a.hub.pk + 1000)  # another hub's alert
    alert_open(org, rule=rule, hub_id=tenant_a.hub.pk)
    outbox_relay_now(org)
    mine = rows(tenant_a, recipient=dispatcher)
    assert len(mine) == 1 and mine[0].alert is not None
    assert mine[0].alert.hub_id == tenant_a.hub.pk


def test_preferences_minimum_severity_and_email_off(tenant_a: Tenant) -> None:
    with_emails(tenant_a)
    org = tenant_a.organization.pk
    preference(tenant_a, Role.DISPATCHER, min_severity=Severity.CRITICAL)
    preference(tenant_a, Role.MANAGER, email_mode=NotificationPreference.EmailMode.OFF)
    rule = rule_create(org, recipient_roles=[Role.DISPATCHER, Role.MANAGER])
    alert_open(org, rule=rule, severity=Severity.WARNING)
    outbox_relay_now(org)
    assert rows(tenant_a, recipient=tenant_a.users[Role.DISPATCHER]) == []
    manager = rows(tenant_a, recipient=tenant_a.users[Role.MANAGER])
    assert [n.channel for n in manager] == [Channel.IN_APP]


def test_quiet_hours_hold_email_until_they_end_but_not_critical(tenant_a: Tenant) -> None:
    with_emails(tenant_a)
    org = tenant_a.organization.pk
    now = timezone.now().astimezone(zoneinfo.ZoneInfo("UTC"))
    start = (now - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    preference(tenant_a, Role.DISPATCHER, quiet_hours_start=start, quiet_hours_end=end)
    rule = rule_create(org)
    warning = alert_open(org, rule=rule)
    critical = alert_open(org, rule=rule, severity=Severity.CRITICAL)
    outbox_relay_now(org)
    emails = {n.alert_id: n for n in rows(tenant_a, channel=Channel.EMAIL)}
    held = emails[warning.pk]
    assert held.status == Status.PENDING and held.send_after is not None
    assert abs((held.send_after - (now + dt.timedelta(hours=1))).total_seconds()) < 120
    assert emails[critical.pk].send_after is None
    with tenant_context(org):
        assert notification_email_send(organization_id=org, key=held.key) is False  # not yet
        assert held.key not in notifications_due_keys(organization_id=org)
        later = now + dt.timedelta(hours=2)
        assert held.key in notifications_due_keys(organization_id=org, now=later)


def test_daily_digest_collects_instead_of_one_email_each(
    tenant_a: Tenant, mailbox: MailBox
) -> None:
    with_emails(tenant_a)
    org = tenant_a.organization.pk
    preference(
        tenant_a, Role.DISPATCHER, email_mode=NotificationPreference.EmailMode.DIGEST,
        digest_hour=0,
    )  # fmt: skip
    rule = rule_create(org)
    alert_open(org, rule=rule, title="Late: order 1001")
    alert_open(org, rule=rule, title="Late: order 1002")
    outbox_relay_now(org)
    waiting = rows(tenant_a, channel=Channel.EMAIL)
    assert [n.status for n in waiting] == [Status.DIGESTED, Status.DIGESTED]
    with tenant_context(org):
        keys = notification_digests_build(organization_id=org)
        assert notification_digests_build(organization_id=org) == []  # once a day
        assert len(keys) == 1 and keys[0].startswith("digest:")
        assert notification_email_send(organization_id=org, key=keys[0]) is True
    (digest,) = mailbox.wait_for(1)
    body = digest.get_body()
    assert body is not None
    text = body.get_content()
    assert "Late: order 1001" in text and "Late: order 1002" in text


# --- Storms and escalation ------------------------------------------------------------------


def test_a_storm_of_one_rule_becomes_one_grouped_notification(
    tenant_a: Tenant, settings: Any, mailbox: MailBox
) -> None:
    settings.ALERTS_STORM_THRESHOLD = 5
    with_emails(tenant_a)
    org = tenant_a.organization.pk
    rule = rule_create(org, name="Offline")
    start, end = storm_window(timezone.now() - dt.timedelta(minutes=3), seconds=60)
    for n in range(12):
        alert_open(
            org, rule=rule, title=f"Van {n} offline", opened_at=start + dt.timedelta(seconds=n)
        )
    outbox_relay_now(org)
    dispatcher = tenant_a.users[Role.DISPATCHER]
    in_app = rows(tenant_a, recipient=dispatcher, channel=Channel.IN_APP)
    singles = [n for n in in_app if n.key.startswith("alert:")]
    storms = [n for n in in_app if n.key.startswith("storm:")]
    assert len(singles) == 5 and len(storms) == 1
    assert "12 alerts" in storms[0].subject
    emails = rows(tenant_a, recipient=dispatcher, channel=Channel.EMAIL)
    storm_email = next(n for n in emails if n.key.startswith("storm:"))
    assert len(emails) == 6 and storm_email.send_after == end
    send_all(tenant_a)
    received = mailbox.wait_for(6)
    grouped = [m for m in received if m["Subject"].startswith("[Storm]")]
    assert len(grouped) == 1 and "12 alerts" in grouped[0]["Subject"]


def test_escalation_notifies_the_next_role_up(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    rule = rule_create(org, channels=[Channel.IN_APP], recipient_roles=[Role.DISPATCHER])
    alert = alert_open(org, rule=rule, severity=Severity.CRITICAL)
    outbox_relay_now(org)
    alert_close(alert, kind="alert.escalated")
    outbox_relay_now(org)
    escalated = [n for n in rows(tenant_a) if ":escalated:" in n.key]
    assert [n.recipient_id for n in escalated] == [tenant_a.users[Role.MANAGER].pk]


def test_planning_rules() -> None:
    assert escalation_roles([Role.DISPATCHER]) == [Role.MANAGER]
    assert escalation_roles([Role.MANAGER, Role.DISPATCHER]) == [Role.ADMIN, Role.MANAGER]
    assert escalation_roles([Role.ADMIN]) == [Role.ADMIN]
    assert escalation_roles([]) == [Role.ADMIN]
    zone = "Europe/Amsterdam"
    ams = zoneinfo.ZoneInfo(zone)
    night = dt.time(22, 0), dt.time(7, 0)
    late = dt.datetime(2026, 3, 28, 23, 30, tzinfo=ams)  # the night clocks go forward
    end = quiet_hours_end(now=late, start=night[0], end=night[1], time_zone=zone)
    assert end == dt.datetime(2026, 3, 29, 7, 0, tzinfo=ams)
    assert end is not None and end.utcoffset() == dt.timedelta(hours=2)  # summer time by then
    early = dt.datetime(2026, 3, 29, 6, 0, tzinfo=ams)
    assert quiet_hours_end(now=early, start=night[0], end=night[1], time_zone=zone) == end
    noon = dt.datetime(2026, 3, 29, 12, 0, tzinfo=ams)
    assert quiet_hours_end(now=noon, start=night[0], end=night[1], time_zone=zone) is None
    lunch = dt.time(12, 0), dt.time(13, 0)
    assert quiet_hours_end(now=noon, start=lunch[0], end=lunch[1], time_zone=zone) == (
        dt.datetime(2026, 3, 29, 13, 0, tzinfo=ams)
    )
    assert quiet_hours_end(now=noon, start=None, end=None, time_zone=zone) is None
    assert digest_day_due(now=noon, digest_hour=7, time_zone=zone) == dt.date(2026, 3, 29)
    assert digest_day_due(now=early, digest_hour=7, time_zone=zone) is None


# --- Webhooks to a real HTTP receiver -------------------------------------------------------


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)


def test_alert_opened_and_resolved_become_signed_webhooks(
    tenant_a: Tenant, httpserver: HTTPServer, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    received: list[tuple[dict[str, str], bytes]] = []

    def answer(request: Any) -> Any:
        from werkzeug import Response

        received.append((dict(request.headers), request.get_data()))
        return Response("ok", status=200)

    httpserver.expect_request("/hooks/alerts", method="POST").respond_with_handler(answer)
    org = tenant_a.organization.pk
    with scope(organization=org):
        endpoint = WebhookEndpoint.objects.create(
            organization=tenant_a.organization, name="Ops", url=httpserver.url_for("/hooks/alerts"),
            events=["alert.opened", "alert.resolved"],
        )  # fmt: skip
    alert = alert_open(org, title="Geofence exit")
    outbox_relay_now(org)
    alert_close(alert)
    outbox_relay_now(org)
    with scopes_disabled():
        deliveries = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id"))
    assert [d.event for d in deliveries] == ["alert.opened", "alert.resolved"]
    with tenant_context(org):
        for delivery in deliveries:
            webhook_delivery_attempt(organization_id=org, delivery_id=delivery.pk)
    assert len(received) == 2
    headers, body = received[0]
    assert webhook_signature_verify(
        secret=endpoint.secret, body=body, header=headers["Doorstep-Signature"]
    )
    envelope = json.loads(body)
    assert envelope["type"] == "alert.opened"
    assert envelope["data"]["id"] == alert.pk and envelope["data"]["title"] == "Geofence exit"
    assert json.loads(received[1][1])["data"]["status"] == "resolved"
