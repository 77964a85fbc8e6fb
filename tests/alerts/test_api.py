"""The alerts REST API over HTTP: tokens and sessions, filters, pages, the timeline, actions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts.models import Alert, AlertEvent, Severity
from tenancy.models import Role
from tenancy.outbox.models import OutboxEvent
from tests.alerts.factories import alert_open, rule_create
from tests.conftest import Tenant, login
from tests.deliveries.builders import api_token_of
from tests.support.api_clients import scoped_client, scoped_token
from tests.support.problems import problem_fields, problem_of

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts/"


def token_client(label: str = "Alpha") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_of(label)}")


def ids(response: object) -> list[int]:
    return [row["id"] for row in response.json()["results"]]  # type: ignore[attr-defined]


def test_token_and_session_list_own_alerts_only(tenant_a: Tenant, tenant_b: Tenant) -> None:
    tenant_a.alerts_build()
    tenant_b.alerts_build()
    assert tenant_a.alert is not None and tenant_b.alert is not None
    for client in (token_client(), login(tenant_a.users[Role.DISPATCHER])):
        response = client.get(ALERTS)
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 1
        row = body["results"][0]
        assert row["id"] == tenant_a.alert.pk
        assert row["title"] == tenant_a.alert.title
        assert row["subject"]["type"] == "vehicle" and row["hub_id"] == tenant_a.hub.pk
        assert tenant_b.alert.title not in response.content.decode()


def test_anonymous_and_drivers_are_refused(tenant_a: Tenant) -> None:
    assert Client().get(ALERTS).status_code in (401, 403)
    assert login(tenant_a.users[Role.DRIVER]).get(ALERTS).status_code == 403


def test_filters_and_the_inbox_order(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    now = timezone.now()
    rule = rule_create(org, name="API rule")
    old_warning = alert_open(org, rule=rule, opened_at=now - dt.timedelta(hours=3))
    new_warning = alert_open(org, rule=rule, opened_at=now - dt.timedelta(minutes=5))
    critical = alert_open(
        org,
        rule=rule,
        severity=Severity.CRITICAL,
        vehicle_id=tenant_a.vehicle.pk,
        hub_id=tenant_a.hub.pk,
        opened_at=now - dt.timedelta(minutes=1),
    )
    client = token_client()
    # Most severe first, then what has waited longest.
    assert ids(client.get(ALERTS)) == [critical.pk, old_warning.pk, new_warning.pk]
    assert ids(client.get(ALERTS, {"severity": Severity.CRITICAL})) == [critical.pk]
    assert ids(client.get(ALERTS, {"severity": [20, 30]})) == [
        critical.pk,
        old_warning.pk,
        new_warning.pk,
    ]
    assert ids(client.get(ALERTS, {"vehicle": tenant_a.vehicle.pk})) == [critical.pk]
    assert ids(client.get(ALERTS, {"hub": tenant_a.hub.pk})) == [critical.pk]
    assert ids(client.get(ALERTS, {"kind": "battery_low"})) == []
    assert len(ids(client.get(ALERTS, {"kind": "speeding"}))) == 3
    after = (now - dt.timedelta(hours=1)).isoformat()
    assert ids(client.get(ALERTS, {"opened_after": after})) == [critical.pk, new_warning.pk]
    assert ids(client.get(ALERTS, {"opened_before": after})) == [old_warning.pk]
    assert ids(client.get(ALERTS, {"status": "resolved"})) == []
    assert len(ids(client.get(ALERTS, {"status": "open"}))) == 3


@pytest.mark.parametrize(
    "query",
    [
        {"status": "sleeping"},
        {"severity": "99"},
        {"severity": "high"},
        {"kind": "nonsense"},
        {"hub": "abc"},
        {"vehicle": "0"},
        {"opened_after": "yesterday"},
        {"opened_after": "2030-01-02T00:00:00Z", "opened_before": "2030-01-01T00:00:00Z"},
        {"limit": "abc"},
    ],
)
def test_bad_filter_values_are_400(tenant_a: Tenant, query: dict[str, str]) -> None:
    response = token_client().get(ALERTS, query)
    # A malformed limit is refused like any other parameter (never silently the default).
    assert response.status_code == 400, response.content
    named = problem_fields(response)
    assert next(iter(query)) in named or "opened_before" in named


def test_pagination(tenant_a: Tenant) -> None:
    org = tenant_a.organization.pk
    rule = rule_create(org, name="Paged rule")
    made = [alert_open(org, rule=rule, emit=False) for _ in range(5)]
    client = token_client()
    first = client.get(ALERTS, {"limit": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["next"]
    rest = client.get(ALERTS, {"limit": 2, "offset": 4}).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert sorted(ids(client.get(ALERTS, {"limit": 10}))) == sorted(a.pk for a in made)


def test_detail_has_the_timeline(tenant_a: Tenant, tenant_b: Tenant) -> None:
    tenant_a.alerts_build()
    tenant_b.alerts_build()
    assert tenant_a.alert is not None and tenant_b.alert is not None
    client = token_client()
    body = client.get(f"{ALERTS}{tenant_a.alert.pk}/").json()
    assert body["id"] == tenant_a.alert.pk and body["status"] == "open"
    assert [entry["kind"] for entry in body["timeline"]] == ["opened"]
    # Another organization's alert, or one that does not exist: 404, nothing of it shown.
    foreign = client.get(f"{ALERTS}{tenant_b.alert.pk}/")
    assert foreign.status_code == 404
    assert tenant_b.alert.title not in foreign.content.decode()
    assert client.get(f"{ALERTS}999999999/").status_code == 404


def test_acknowledge_then_resolve_then_409(tenant_a: Tenant) -> None:
    tenant_a.alerts_build()
    assert tenant_a.alert is not None
    url = f"{ALERTS}{tenant_a.alert.pk}/"
    client = login(tenant_a.users[Role.DISPATCHER])
    acked = client.post(f"{url}acknowledge/", {"note": "on it"}, content_type="application/json")
    assert acked.status_code == 200, acked.content
    assert acked.json()["status"] == "acknowledged"
    again = client.post(f"{url}acknowledge/", {}, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["code"] == "acknowledged"
    resolved = client.post(f"{url}resolve/", {"note": "fixed"}, content_type="application/json")
    assert resolved.status_code == 200
    body = resolved.json()
    assert body["status"] == "resolved" and body["resolution"] == "manual"
    timeline = body["timeline"]
    assert [entry["kind"] for entry in timeline] == ["opened", "acknowledged", "resolved"]
    assert timeline[1]["note"] == "on it" and timeline[1]["actor"]
    late = client.post(f"{url}acknowledge/", {}, content_type="application/json")
    assert late.status_code == 409
    problem = problem_of(late, 409)
    assert problem["detail"] == "This alert is already resolved." and problem["code"] == "resolved"
    assert client.post(f"{url}resolve/", {}, content_type="application/json").status_code == 409


def test_a_token_without_the_alerts_scope_cannot_act_and_bad_notes_are_400(
    tenant_a: Tenant,
) -> None:
    tenant_a.alerts_build()
    assert tenant_a.alert is not None
    url = f"{ALERTS}{tenant_a.alert.pk}/"
    refused = token_client().post(f"{url}acknowledge/", {}, content_type="application/json")
    assert refused.status_code == 403
    assert "lacks the 'alerts' scope" in refused.json()["detail"]
    client = login(tenant_a.users[Role.DISPATCHER])
    long_note = client.post(f"{url}resolve/", {"note": "x" * 2001}, content_type="application/json")
    assert long_note.status_code == 400 and "note" in problem_fields(long_note)
    assert client.get(f"{url}resolve/").status_code == 405
    with scopes_disabled():
        assert Alert.objects.get(pk=tenant_a.alert.pk).status == "open"


def test_a_token_with_the_alerts_scope_works_the_alert_and_is_named_on_the_timeline(
    tenant_a: Tenant,
) -> None:
    """An on-call or ticketing integration: acknowledge, assign, snooze, note, resolve, each
    recorded as "API token <name>" (no user), in the outbox payload too."""
    tenant_a.alerts_build()
    assert tenant_a.alert is not None
    token, plain = scoped_token(tenant_a.organization, ["alerts"])
    client = Client(HTTP_AUTHORIZATION=f"Token {plain}")
    url = f"{ALERTS}{tenant_a.alert.pk}/"
    acked = post(client, f"{url}acknowledge/", {"note": "paged the on-call"})
    assert acked.status_code == 200, acked.content  # type: ignore[attr-defined]
    assert acked.json()["status"] == "acknowledged"  # type: ignore[attr-defined]
    dispatcher = tenant_a.users[Role.DISPATCHER]
    assert post(client, f"{url}assign/", {"assignee_id": dispatcher.pk}).status_code == 200  # type: ignore[attr-defined]
    assert post(client, f"{url}snooze/", {"minutes": 15}).status_code == 200  # type: ignore[attr-defined]
    assert post(client, f"{url}note/", {"note": "ticket OPS-42"}).status_code == 200  # type: ignore[attr-defined]
    resolved = post(client, f"{url}resolve/", {"note": "closed in the ticket"})
    body = resolved.json()  # type: ignore[attr-defined]
    assert body["status"] == "resolved" and body["resolution"] == "manual"
    by_token = [e for e in body["timeline"] if e["kind"] != "opened"]
    assert [e["kind"] for e in by_token] == [
        "acknowledged",
        "assigned",
        "snoozed",
        "note",
        "resolved",
    ]
    assert {e["actor"] for e in by_token} == {f"API token {token.name}"}
    with scopes_disabled():
        alert = Alert.objects.get(pk=tenant_a.alert.pk)
        assert alert.acknowledged_at is not None and alert.acknowledged_by_id is None
        assert alert.resolved_by_id is None and alert.assignee_id == dispatcher.pk
        events = AlertEvent.objects.filter(alert=alert).exclude(kind="opened")
        assert {(e.actor_id, e.actor_token_id) for e in events} == {(None, token.pk)}
        payload = (
            OutboxEvent.objects.filter(kind="alert.acknowledged", aggregate_id=alert.pk)
            .get()
            .payload
        )
    assert payload["actor_id"] is None and payload["actor_token_id"] == token.pk
    assert payload["actor_name"] == f"API token {token.name}"
    # The console shows the same line on the alert's page.
    page = login(tenant_a.users[Role.DISPATCHER]).get(f"/alerts/{alert.pk}/").content.decode()
    assert f"by API token {token.name}" in page


def test_a_retried_token_action_is_answered_once(tenant_a: Tenant) -> None:
    """Idempotency-Key on the action: the retry gets the first answer, not a 409, and the
    timeline has one line."""
    tenant_a.alerts_build()
    assert tenant_a.alert is not None
    client = scoped_client(tenant_a, ["alerts"])
    url = f"{ALERTS}{tenant_a.alert.pk}/acknowledge/"
    first = client.post(
        url, {}, content_type="application/json", headers={"Idempotency-Key": "ack-1"}
    )
    retry = client.post(
        url, {}, content_type="application/json", headers={"Idempotency-Key": "ack-1"}
    )
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    with scopes_disabled():
        assert (
            AlertEvent.objects.filter(alert_id=tenant_a.alert.pk, kind="acknowledged").count() == 1
        )


def test_actions_on_a_foreign_alert_are_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    tenant_b.alerts_build()
    assert tenant_b.alert is not None
    client = login(tenant_a.users[Role.ADMIN])
    for action in ("acknowledge", "resolve"):
        response = client.post(
            f"{ALERTS}{tenant_b.alert.pk}/{action}/", {}, content_type="application/json"
        )
        assert response.status_code == 404
    # A token of another organization, even one with the alerts scope: 404 as well.
    foreign_token = scoped_client(tenant_a, ["alerts", "admin"])
    for action in ("acknowledge", "resolve", "note"):
        refused = post(foreign_token, f"{ALERTS}{tenant_b.alert.pk}/{action}/", {"note": "x"})
        assert refused.status_code == 404  # type: ignore[attr-defined]
    with scopes_disabled():
        assert Alert.objects.get(pk=tenant_b.alert.pk).status == "open"
        assert not AlertEvent.objects.filter(alert=tenant_b.alert).exclude(kind="opened").exists()


def test_the_schema_documents_the_alerts_api() -> None:
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/alerts/" in paths
    assert "/api/v1/alerts/{alert_id}/acknowledge/" in paths
    names = {p["name"] for p in paths["/api/v1/alerts/"]["get"]["parameters"]}
    assert {"status", "severity", "kind", "hub", "vehicle", "opened_after", "limit"} <= names


def post(client: Client, url: str, body: dict[str, object]) -> object:
    return client.post(url, body, content_type="application/json")


def test_assign_snooze_and_note_with_409_on_wrong_state(tenant_a: Tenant) -> None:
    tenant_a.alerts_build()
    assert tenant_a.alert is not None
    url = f"{ALERTS}{tenant_a.alert.pk}/"
    client = login(tenant_a.users[Role.DISPATCHER])
    manager = tenant_a.users[Role.MANAGER]

    assigned = post(client, f"{url}assign/", {"assignee_id": manager.pk})
    assert assigned.status_code == 200, assigned.content  # type: ignore[attr-defined]
    assert assigned.json()["assignee_id"] == manager.pk  # type: ignore[attr-defined]
    again = post(client, f"{url}assign/", {"assignee_id": manager.pk})
    assert problem_of(again, 409)["code"] == "unchanged_assignee"

    before = timezone.now()
    snoozed = post(client, f"{url}snooze/", {"minutes": 30})
    assert snoozed.status_code == 200  # type: ignore[attr-defined]
    until = dt.datetime.fromisoformat(snoozed.json()["snoozed_until"])  # type: ignore[attr-defined]
    assert before + dt.timedelta(minutes=30) <= until <= timezone.now() + dt.timedelta(minutes=30)
    later = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    assert post(client, f"{url}snooze/", {"until": later}).status_code == 200  # type: ignore[attr-defined]
    woken = post(client, f"{url}snooze/", {"until": None})
    assert woken.json()["snoozed_until"] is None  # type: ignore[attr-defined]
    assert problem_of(post(client, f"{url}snooze/", {"until": None}), 409)["code"] == "not_snoozed"

    noted = post(client, f"{url}note/", {"note": "Called the driver: flat tyre"})
    assert noted.status_code == 200  # type: ignore[attr-defined]
    timeline = noted.json()["timeline"]  # type: ignore[attr-defined]
    assert [entry["kind"] for entry in timeline] == [
        "opened", "assigned", "snoozed", "snoozed", "snoozed", "note",
    ]  # fmt: skip
    assert timeline[-1]["note"] == "Called the driver: flat tyre" and timeline[-1]["actor"]

    assert post(client, f"{url}resolve/", {}).status_code == 200  # type: ignore[attr-defined]
    assert problem_of(post(client, f"{url}assign/", {"assignee_id": None}), 409)["code"] == (
        "resolved"
    )
    assert problem_of(post(client, f"{url}snooze/", {"minutes": 5}), 409)["code"] == "resolved"
    # A note after the fact is allowed: the post-mortem belongs with the episode.
    assert post(client, f"{url}note/", {"note": "Tyre replaced"}).status_code == 200  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("assign", {}, "assignee_id"),
        ("assign", {"assignee_id": "someone"}, "assignee_id"),
        ("assign", {"assignee_id": 0}, "assignee_id"),
        ("snooze", {}, "until"),
        ("snooze", {"minutes": 0}, "minutes"),
        ("snooze", {"minutes": 20_000}, "minutes"),
        ("snooze", {"minutes": 5, "until": "2030-01-01T00:00:00Z"}, "until"),
        ("snooze", {"until": "2020-01-01T00:00:00Z"}, "until"),
        ("snooze", {"until": "next week"}, "until"),
        ("note", {}, "note"),
        ("note", {"note": ""}, "note"),
        ("note", {"note": "x" * 2001}, "note"),
    ],
)
def test_bad_action_input_is_400_and_changes_nothing(
    tenant_a: Tenant, action: str, body: dict[str, object], field: str
) -> None:
    tenant_a.alerts_build()
    assert tenant_a.alert is not None
    client = login(tenant_a.users[Role.DISPATCHER])
    response = post(client, f"{ALERTS}{tenant_a.alert.pk}/{action}/", body)
    assert response.status_code == 400, response.content  # type: ignore[attr-defined]
    assert field in problem_fields(response)
    with scopes_disabled():
        alert = Alert.objects.get(pk=tenant_a.alert.pk)
        assert (alert.assignee_id, alert.snoozed_until) == (None, None)
        assert not AlertEvent.objects.filter(alert=alert).exclude(kind="opened").exists()


def test_assignees_are_console_users_of_the_organization(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    tenant_a.alerts_build()
    assert tenant_a.alert is not None
    client = login(tenant_a.users[Role.DISPATCHER])
    url = f"{ALERTS}{tenant_a.alert.pk}/assign/"
    for user in (tenant_a.users[Role.DRIVER], tenant_b.users[Role.DISPATCHER]):
        refused = post(client, url, {"assignee_id": user.pk})
        assert refused.status_code == 400 and "assignee_id" in problem_fields(refused)  # type: ignore[attr-defined]
        assert user.username not in refused.content.decode()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("action", "body"),
    [("assign", {"assignee_id": None}), ("snooze", {"minutes": 5}), ("note", {"note": "x"})],
)
def test_a_token_without_the_alerts_scope_cannot_take_the_new_actions(
    tenant_a: Tenant, action: str, body: dict[str, object]
) -> None:
    tenant_a.alerts_build()
    assert tenant_a.alert is not None
    for scopes in (["read"], ["orders", "tracking"]):
        refused = post(
            scoped_client(tenant_a, scopes), f"{ALERTS}{tenant_a.alert.pk}/{action}/", body
        )
        assert refused.status_code == 403  # type: ignore[attr-defined]
        assert "lacks the 'alerts' scope" in refused.json()["detail"]  # type: ignore[attr-defined]


def test_the_schema_documents_the_new_actions() -> None:
    paths = Client().get("/api/schema/", {"format": "json"}).json()["paths"]
    for action in ("assign", "snooze", "note"):
        operation = paths[f"/api/v1/alerts/{{alert_id}}/{action}/"]["post"]
        assert operation["operationId"] == f"alerts_{action}"
        assert {"200", "400", "403", "404", "409"} <= set(operation["responses"])


def test_updated_since_lists_the_alerts_changed_since(tenant_a: Tenant) -> None:
    """A client syncing the alerts asks for what changed: a person's action (an acknowledgement,
    a note) and the engine's (a resolve) count; each row says when (`updated_at`)."""
    from alerts.services.episodes import alert_resolve
    from tenancy.context import tenant_context

    org = tenant_a.organization.pk
    rule = rule_create(org, name="Synced rule")
    acknowledged, noted, resolved, untouched = (
        alert_open(org, rule=rule, emit=False) for _ in range(4)
    )
    with scopes_disabled():
        Alert.objects.filter(organization_id=org).update(
            updated_at=timezone.now() - dt.timedelta(hours=1)
        )
    since = timezone.now() - dt.timedelta(minutes=1)
    client = scoped_client(tenant_a, ["alerts"])
    query = {"updated_since": since.isoformat(), "status": "all"}
    assert ids(client.get(ALERTS, query)) == []
    assert post(client, f"{ALERTS}{acknowledged.pk}/acknowledge/", {}).status_code == 200  # type: ignore[attr-defined]
    assert post(client, f"{ALERTS}{noted.pk}/note/", {"note": "called"}).status_code == 200  # type: ignore[attr-defined]
    with tenant_context(org), scopes_disabled():
        assert alert_resolve(alert=Alert.objects.get(pk=resolved.pk), at=timezone.now())
    rows = client.get(ALERTS, query).json()["results"]
    assert sorted(row["id"] for row in rows) == sorted([acknowledged.pk, noted.pk, resolved.pk])
    assert all(dt.datetime.fromisoformat(row["updated_at"]) >= since for row in rows)
    assert untouched.pk in ids(client.get(ALERTS, {"status": "all"}))
    # The default (active) still applies: the resolved one needs status=all.
    active = ids(client.get(ALERTS, {"updated_since": since.isoformat()}))
    assert sorted(active) == sorted([acknowledged.pk, noted.pk])
    naive = client.get(ALERTS, {"updated_since": "2030-01-01T10:00:00"})
    assert problem_fields(naive) == {"updated_since"}
    names = {
        p["name"]
        for p in Client()
        .get("/api/schema/", {"format": "json"})
        .json()["paths"][ALERTS]["get"]["parameters"]
    }
    assert "updated_since" in names
