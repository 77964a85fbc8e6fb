"""People's actions on alerts: each transition, its errors, its timeline line and its event."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts.models import Alert, AlertEvent, Severity
from alerts.selectors import AlertFilters, alert_list, alert_open_count
from alerts.services.actions import (
    AlertActionError,
    alert_acknowledge,
    alert_assign,
    alert_note_add,
    alert_resolve,
    alert_snooze,
)
from tenancy.context import tenant_context
from tenancy.models import Role
from tenancy.outbox.models import OutboxEvent
from tests.alerts.factories import alert_open, rule_create
from tests.conftest import Tenant


@pytest.fixture
def tenant_a(tenant_a: Tenant) -> Tenant:
    """This module's tenants come with an open alert and its rule (tests/conftest.py)."""
    return tenant_a.alerts_build()


@pytest.fixture
def tenant_b(tenant_b: Tenant) -> Tenant:
    return tenant_b.alerts_build()


pytestmark = pytest.mark.django_db


def fixture_alert_resolve(tenant: Tenant) -> None:
    """The shared fixture's own alert out of the way, for tests that count the inbox."""
    with scopes_disabled():
        Alert.objects.filter(organization=tenant.organization).update(status="resolved")


def events_of(alert: Alert) -> list[str]:
    with scopes_disabled():
        return list(AlertEvent.objects.filter(alert=alert).values_list("kind", flat=True))


def outbox_kinds(alert: Alert) -> list[str]:
    with scopes_disabled():
        return list(
            OutboxEvent.objects.filter(aggregate="alert", aggregate_id=alert.pk)
            .order_by("id")
            .values_list("kind", flat=True)
        )


def test_acknowledge_then_resolve_records_who_and_emits(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    dispatcher = tenant_a.users[Role.DISPATCHER]
    alert = alert_open(org)
    with tenant_context(org):
        alert_acknowledge(organization_id=org, alert_id=alert.pk, actor=dispatcher, note="on it")
        with pytest.raises(AlertActionError, match="already acknowledged"):
            alert_acknowledge(organization_id=org, alert_id=alert.pk, actor=dispatcher)
        resolved = alert_resolve(organization_id=org, alert_id=alert.pk, actor=dispatcher)
        with pytest.raises(AlertActionError) as error:
            alert_resolve(organization_id=org, alert_id=alert.pk, actor=dispatcher)
        assert error.value.code == "resolved"
        with pytest.raises(AlertActionError, match="already resolved"):
            alert_acknowledge(organization_id=org, alert_id=alert.pk, actor=dispatcher)
    assert resolved.status == Alert.Status.RESOLVED
    assert resolved.resolution == Alert.Resolution.MANUAL
    assert resolved.resolved_by_id == dispatcher.pk
    assert resolved.acknowledged_by_id == dispatcher.pk
    assert events_of(alert) == ["opened", "acknowledged", "resolved"]
    assert outbox_kinds(alert) == ["alert.opened", "alert.acknowledged", "alert.resolved"]


def test_resolve_without_acknowledging_is_allowed(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    alert = alert_open(org)
    with tenant_context(org):
        done = alert_resolve(
            organization_id=org, alert_id=alert.pk, actor=tenant_a.users[Role.ADMIN]
        )
    assert done.status == Alert.Status.RESOLVED and done.acknowledged_at is None


def test_assign_checks_the_assignee_and_refuses_no_op(tenant_a: Tenant, tenant_b: Tenant) -> None:
    org = tenant_a.organization.pk
    actor = tenant_a.users[Role.DISPATCHER]
    alert = alert_open(org)
    with tenant_context(org):
        alert_assign(organization_id=org, alert_id=alert.pk, actor=actor, assignee_id=actor.pk)
        with pytest.raises(AlertActionError, match="already assigned"):
            alert_assign(organization_id=org, alert_id=alert.pk, actor=actor, assignee_id=actor.pk)
        # Another organization's user, and a driver (no console), are refused.
        for stranger in (tenant_b.users[Role.DISPATCHER], tenant_a.users[Role.DRIVER]):
            with pytest.raises(AlertActionError) as error:
                alert_assign(
                    organization_id=org, alert_id=alert.pk, actor=actor, assignee_id=stranger.pk
                )
            assert error.value.code == "bad_assignee"
        alert_assign(organization_id=org, alert_id=alert.pk, actor=actor, assignee_id=None)
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.assignee_id is None and alert.status == Alert.Status.OPEN
    assert events_of(alert) == ["opened", "assigned", "assigned"]


def test_snooze_hides_from_the_working_list_until_it_wakes(tenant_a: Tenant) -> None:
    fixture_alert_resolve(tenant_a)
    org = tenant_a.organization.pk
    actor = tenant_a.users[Role.DISPATCHER]
    alert = alert_open(org)
    now = timezone.now()
    with tenant_context(org):
        for until, code in (
            (now - dt.timedelta(minutes=1), "past"),
            (now + dt.timedelta(days=8), "too_long"),
            (dt.datetime(2030, 1, 1), "naive_time"),
            (None, "not_snoozed"),
        ):
            with pytest.raises(AlertActionError) as error:
                alert_snooze(organization_id=org, alert_id=alert.pk, actor=actor, until=until)
            assert error.value.code == code
        alert_snooze(
            organization_id=org, alert_id=alert.pk, actor=actor, until=now + dt.timedelta(hours=1)
        )
        assert list(alert_list(organization_id=org)) == []
        snoozed = alert_list(organization_id=org, filters=AlertFilters(status="snoozed"))
        assert [a.pk for a in snoozed] == [alert.pk]
        later = now + dt.timedelta(hours=2)
        assert [a.pk for a in alert_list(organization_id=org, now=later)] == [alert.pk]
        # Snoozed is not solved: the badge still counts it.
        assert alert_open_count(organization_id=org) == 1
        alert_snooze(organization_id=org, alert_id=alert.pk, actor=actor, until=None)
        assert [a.pk for a in alert_list(organization_id=org)] == [alert.pk]


def test_notes_are_checked_and_allowed_after_resolving(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    actor = tenant_a.users[Role.MANAGER]
    alert = alert_open(org)
    with tenant_context(org):
        with pytest.raises(AlertActionError, match="Write a note"):
            alert_note_add(organization_id=org, alert_id=alert.pk, actor=actor, note="  ")
        with pytest.raises(AlertActionError, match="at most"):
            alert_note_add(organization_id=org, alert_id=alert.pk, actor=actor, note="x" * 2001)
        alert_resolve(organization_id=org, alert_id=alert.pk, actor=actor)
        alert_note_add(organization_id=org, alert_id=alert.pk, actor=actor, note="flat tyre")
    with scopes_disabled():
        note = AlertEvent.objects.get(alert=alert, kind="note")
    assert note.note == "flat tyre" and note.actor_id == actor.pk


def test_foreign_and_other_hub_alerts_are_not_found(tenant_a: Tenant, tenant_b: Tenant) -> None:
    foreign = alert_open(tenant_b.organization.pk)
    mine = alert_open(tenant_a.organization.pk, hub_id=tenant_a.hub.pk)
    org = tenant_a.organization.pk
    actor = tenant_a.users[Role.DISPATCHER]
    with tenant_context(org):
        with pytest.raises(Alert.DoesNotExist):
            alert_acknowledge(organization_id=org, alert_id=foreign.pk, actor=actor)
        with pytest.raises(Alert.DoesNotExist):
            alert_acknowledge(
                organization_id=org, alert_id=mine.pk, actor=actor, hub_ids=[tenant_a.hub.pk + 999]
            )
        alert_acknowledge(
            organization_id=org, alert_id=mine.pk, actor=actor, hub_ids=[tenant_a.hub.pk]
        )


def test_inbox_sorts_by_severity_then_age_and_filters(tenant_a: Tenant) -> None:
    fixture_alert_resolve(tenant_a)
    org = tenant_a.organization.pk
    now = timezone.now()
    rule = rule_create(org)
    other_rule = rule_create(org, name="Offline", kind="vehicle_offline")
    old_warning = alert_open(org, rule=rule, opened_at=now - dt.timedelta(hours=2))
    new_warning = alert_open(org, rule=rule, opened_at=now - dt.timedelta(minutes=5))
    critical = alert_open(
        org, rule=other_rule, severity=Severity.CRITICAL, hub_id=tenant_a.hub.pk, opened_at=now
    )
    me = tenant_a.users[Role.DISPATCHER]
    with tenant_context(org):
        alert_assign(organization_id=org, alert_id=new_warning.pk, actor=me, assignee_id=me.pk)

        def ids(**kwargs: object) -> list[int]:
            filters = AlertFilters(**kwargs)  # type: ignore[arg-type]
            return [a.pk for a in alert_list(organization_id=org, filters=filters, user_id=me.pk)]

        assert ids() == [critical.pk, old_warning.pk, new_warning.pk]
        assert ids(severities=(Severity.WARNING,)) == [old_warning.pk, new_warning.pk]
        assert ids(kinds=("vehicle_offline",)) == [critical.pk]
        assert ids(hub_ids=(tenant_a.hub.pk,)) == [critical.pk]
        assert ids(assignee="me") == [new_warning.pk]
        assert ids(assignee="none") == [critical.pk, old_warning.pk]
        assert ids(older_than_minutes=60) == [old_warning.pk]
        scoped = alert_list(organization_id=org, hub_ids=[tenant_a.hub.pk])
        assert [a.pk for a in scoped] == [critical.pk]
        assert alert_open_count(organization_id=org) == 3
        assert alert_open_count(organization_id=org, hub_ids=[tenant_a.hub.pk]) == 1
