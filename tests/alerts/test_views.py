"""The alerts pages over HTTP: inbox, detail, actions, settings, notifications, email outbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_scopes import scopes_disabled

from alerts.models import Alert, AlertEvent, AlertRule, Notification, NotificationPreference
from tenancy.models import Role
from tests.alerts.factories import alert_open
from tests.conftest import Tenant, login
from tests.support.outbox import outbox_relay_now


@pytest.fixture
def tenant_a(tenant_a: Tenant) -> Tenant:
    """This module's tenants come with an open alert and its rule (tests/conftest.py)."""
    return tenant_a.alerts_build()


@pytest.fixture
def tenant_b(tenant_b: Tenant) -> Tenant:
    return tenant_b.alerts_build()


pytestmark = pytest.mark.django_db
JSON = {"Accept": "application/json"}


def test_the_inbox_lists_the_alerts_for_console_roles_only(tenant_a: Tenant) -> None:
    for role in (Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.SUPPORT):
        response = login(tenant_a.users[role]).get("/alerts/")
        assert response.status_code == 200
        config = json.loads(
            response.content.decode()
            .split('id="inbox-config" type="application/json">')[1]
            .split("</script>")[0]
        )
        assert [a["title"] for a in config["alerts"]] == ["Alphaalert Speeding"]
        assert "Coming soon" not in response.content.decode()
    assert login(tenant_a.users[Role.DRIVER]).get("/alerts/").status_code == 403


def test_inbox_json_and_bad_filters(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    data = client.get("/alerts/?format=json&severity=20").json()
    assert [a["title"] for a in data["alerts"]] == ["Alphaalert Speeding"]
    assert client.get("/alerts/?format=json&severity=30").json()["alerts"] == []
    bad = client.get("/alerts/?format=json&severity=loud")
    assert bad.status_code == 400 and "severity" in bad.json()["errors"]
    page = client.get("/alerts/?status=nonsense")
    assert page.status_code == 400 and b"not understood" in page.content


def test_the_badge_counts_open_alerts_on_every_console_page(tenant_a: Tenant) -> None:
    body = login(tenant_a.users[Role.DISPATCHER]).get("/orders/").content.decode()
    assert 'id="alerts-badge"' in body and 'data-count="1"' in body
    assert "js/alerts/badge.js" in body
    driver = login(tenant_a.users[Role.DRIVER]).get("/driver/").content.decode()
    assert "alerts/badge.js" not in driver


def test_actions_over_http_answer_json_and_precise_errors(tenant_a: Tenant) -> None:
    assert tenant_a.alert is not None
    url = f"/alerts/{tenant_a.alert.pk}/action/"
    client = login(tenant_a.users[Role.DISPATCHER])
    ok = client.post(url, {"action": "acknowledge"}, headers=JSON)
    assert ok.status_code == 200 and ok.json()["alert"]["status"] == "acknowledged"
    again = client.post(url, {"action": "acknowledge"}, headers=JSON)
    assert again.status_code == 409 and again.json()["error"] == "acknowledged"
    assert client.post(url, {"action": "explode"}, headers=JSON).status_code == 400
    assert client.post(url, {"action": "snooze", "until": "soon"}, headers=JSON).status_code == 400
    assert client.post(url, {"action": "assign", "assignee": "x"}, headers=JSON).status_code == 400
    assigned = client.post(url, {"action": "assign", "assignee": "me"}, headers=JSON).json()
    assert assigned["alert"]["assignee_id"] == tenant_a.users[Role.DISPATCHER].pk
    snoozed = client.post(url, {"action": "snooze", "until": "1h"}, headers=JSON).json()
    assert snoozed["alert"]["snoozed_until"]
    # The detail page's forms: redirect back, errors as messages.
    back = client.post(url, {"action": "note", "note": "called the driver"})
    assert back.status_code == 302 and back["Location"] == f"/alerts/{tenant_a.alert.pk}/"
    detail = client.get(back["Location"]).content.decode()
    assert "called the driver" in detail and "Acknowledged" in detail
    assert client.get(url).status_code == 405
    assert login(tenant_a.users[Role.DRIVER]).post(url, {"action": "resolve"}).status_code == 403


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.SUPPORT])
def test_actions_on_a_foreign_alert_are_404_and_change_nothing(
    role: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    assert tenant_b.alert is not None
    client = login(tenant_a.users[role])
    for action in ("acknowledge", "resolve", "note", "snooze", "assign"):
        response = client.post(
            f"/alerts/{tenant_b.alert.pk}/action/",
            {"action": action, "note": "x", "until": "1h", "assignee": "me"},
            headers=JSON,
        )
        assert response.status_code == 404
    with scopes_disabled():
        alert = Alert.objects.get(pk=tenant_b.alert.pk)
        assert alert.status == "open" and alert.assignee_id is None
        assert not AlertEvent.objects.filter(alert=alert).exclude(kind="opened").exists()


def test_markers_for_the_live_map(tenant_a: Tenant) -> None:
    data = login(tenant_a.users[Role.DISPATCHER]).get("/alerts/markers/").json()
    (marker,) = data["alerts"]
    assert marker["vehicle_id"] == tenant_a.vehicle.pk and marker["url"].startswith("/alerts/")


RULE_FORM: dict[str, Any] = {
    "name": "Battery low", "kind": "battery_low", "enabled": "on", "severity": "20",
    "params": '{"below_pct": 12}', "scope_kind": "all", "active_hours": "[]",
    "min_duration_seconds": 0, "cooldown_seconds": 600, "channels": ["in_app"],
    "recipient_roles": ["dispatcher"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"params": "{not json"}, "Enter a valid JSON."),
        ({"params": '{"percent": 15}'}, "percent: Unknown parameter"),
        ({"params": '{"below_pct": 500}'}, "below_pct: Must be at most"),
        ({"params": '{"below_pct": "low"}'}, "below_pct: "),
        ({"active_hours": '[{"days": [0], "start": "25:00", "end": "07:00"}]'}, "25:00"),
        ({"scope_kind": "hubs"}, "Pick at least one for this scope."),
    ],
)
def test_the_settings_page_refuses_bad_parameters_with_a_form_error(
    tenant_a: Tenant, change: dict[str, str], error: str
) -> None:
    """The same typed per-kind form as Django admin: one error per bad parameter, by name."""
    bad = login(tenant_a.users[Role.ADMIN]).post(
        "/alerts/settings/rules/new/", {**RULE_FORM, **change}
    )
    assert bad.status_code == 400
    assert error in bad.content.decode()
    with scopes_disabled():
        assert not AlertRule.objects.filter(name="Battery low").exists()  # nothing half-written


def test_admins_edit_rules_on_the_settings_page(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    assert b"Alpharule Watch" in client.get("/alerts/settings/").content
    assert client.get("/alerts/settings/rules/new/").status_code == 200
    assert client.post("/alerts/settings/rules/new/", RULE_FORM).status_code == 302
    with scopes_disabled():
        rule = AlertRule.objects.get(name="Battery low")
    # Saved with every default of the kind filled in, as Django admin saves it.
    assert rule.organization_id == tenant_a.organization.pk
    assert rule.params == {"below_pct": 12, "hysteresis_pct": 5}
    edit = client.post(
        f"/alerts/settings/rules/{rule.pk}/",
        {**RULE_FORM, "name": "Battery < 10%", "params": '{"below_pct": 10}',
         "scope_kind": "hubs", "scope_hub_ids": [str(tenant_a.hub.pk)]},
    )  # fmt: skip
    assert edit.status_code == 302
    with scopes_disabled():
        rule.refresh_from_db()
    assert (rule.name, rule.params["below_pct"], rule.scope_hub_ids) == (
        "Battery < 10%", 10, [tenant_a.hub.pk],
    )  # fmt: skip
    # Scope choices are the organization's own: another organization's hub is refused.
    foreign = client.post(
        f"/alerts/settings/rules/{rule.pk}/",
        {**RULE_FORM, "scope_kind": "hubs", "scope_hub_ids": [str(tenant_b.hub.pk)]},
    )
    assert foreign.status_code == 400 and tenant_b.hub.name not in foreign.content.decode()
    # Another organization's rule cannot be edited: 404, and it is unchanged.
    with scopes_disabled():
        b_rule = AlertRule.objects.get(organization=tenant_b.organization)
    refused = client.post(f"/alerts/settings/rules/{b_rule.pk}/", RULE_FORM)
    assert refused.status_code == 404
    with scopes_disabled():
        assert AlertRule.objects.get(pk=b_rule.pk).name == b_rule.name
    for role in (Role.MANAGER, Role.DISPATCHER):
        assert login(tenant_a.users[role]).get("/alerts/settings/").status_code == 403
        assert login(tenant_a.users[role]).get("/alerts/emails/").status_code == 403


def test_everyone_sets_their_own_notification_preferences(tenant_a: Tenant) -> None:
    user = tenant_a.users[Role.DISPATCHER]
    client = login(user)
    assert client.get("/alerts/preferences/").status_code == 200
    form: dict[str, Any] = {"email_mode": "digest", "min_severity": "30", "digest_hour": "6",
                            "quiet_hours_start": "22:00", "quiet_hours_end": "07:00"}  # fmt: skip
    assert client.post("/alerts/preferences/", form).status_code == 302
    with scopes_disabled():
        pref = NotificationPreference.objects.get(user=user)
    assert pref.email_mode == "digest" and pref.organization_id == tenant_a.organization.pk
    bad = client.post("/alerts/preferences/", {**form, "digest_hour": "25"})
    assert bad.status_code == 400


def test_in_app_notifications_and_the_email_outbox(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    with scopes_disabled():
        tenant_a.users[Role.DISPATCHER].email = "d@example.com"
        tenant_a.users[Role.DISPATCHER].save()
    alert_open(org, title="Idle for 25 min")
    outbox_relay_now(org)
    client = login(tenant_a.users[Role.DISPATCHER])
    page = client.get("/alerts/notifications/").content.decode()
    assert "Idle for 25 min" in page and 'data-testid="unread-count">1<' in page
    assert client.post("/alerts/notifications/").status_code == 302
    with scopes_disabled():
        assert not Notification.objects.filter(channel="in_app", read_at__isnull=True).exists()
    outbox = login(tenant_a.users[Role.ADMIN]).get("/alerts/emails/").content.decode()
    assert "Idle for 25 min" in outbox and "d@example.com" in outbox
