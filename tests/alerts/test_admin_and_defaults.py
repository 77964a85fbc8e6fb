"""Rules in the tenant admin (params validated per kind, scope choices of the organization
only) and the default rule set of a new organization."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django_scopes import scopes_disabled

from alerts.defaults import DEFAULT_RULES, default_rules_install
from alerts.kinds import kind_params
from alerts.models import AlertRule
from tenancy.context import tenant_context
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/alerts/alertrule/add/"


def rule_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Fast", "kind": "speeding", "enabled": "on", "severity": "20",
        "params": '{"limit_kmh": 70}', "scope_kind": "all", "active_hours": "[]",
        "min_duration_seconds": "0", "cooldown_seconds": "600", "channels": ["in_app"],
        "recipient_roles": ["dispatcher"],
    }  # fmt: skip
    data.update(overrides)
    return data


def test_admin_saves_a_rule_with_its_params_filled_in(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    response = client.post(ADD_URL, rule_post())
    assert response.status_code == 302, response.content.decode()[:2000]
    with scopes_disabled():
        rule = AlertRule.objects.get(organization=tenant_a.organization, name="Fast")
    assert rule.params["limit_kmh"] == 70 and rule.params["min_seconds"] == 20


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"params": '{"limit_kmh": 5}'}, "limit_kmh: Must be at least 10"),
        ({"params": '{"speed": 5}'}, "speed: Unknown parameter"),
        ({"active_hours": '[{"start": "25:00", "end": "08:00"}]'}, "HH:MM"),
        ({"scope_kind": "hubs"}, "Pick at least one"),
    ],
)
def test_admin_refuses_bad_settings_with_a_form_error(
    tenant_a: Tenant, overrides: dict[str, Any], error: str
) -> None:
    response = login(tenant_a.users[Role.ADMIN]).post(ADD_URL, rule_post(**overrides))
    assert response.status_code == 200
    assert error in response.content.decode()


def test_admin_offers_and_accepts_only_own_hubs(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    body = client.get(ADD_URL).content.decode()
    assert tenant_a.hub.name in body and tenant_b.hub.name not in body
    response = client.post(ADD_URL, rule_post(scope_kind="hubs", scope_hub_ids=[tenant_b.hub.pk]))
    assert (
        response.status_code == 200
        and "not one of the available choices" in response.content.decode()
    )


def test_default_rules_are_valid_and_install_once(tenant_a: Tenant) -> None:
    for _, kind, _, params, _ in DEFAULT_RULES:
        kind_params(kind, params)
    with tenant_context(tenant_a.organization.pk):
        assert default_rules_install(tenant_a.organization.pk) == len(DEFAULT_RULES)
        assert default_rules_install(tenant_a.organization.pk) == 0


@override_settings(ALERTS_DEFAULT_RULES_ON_CREATE=True)
def test_a_new_organization_gets_the_default_rules(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        organization = OrganizationFactory.create()
    with scopes_disabled():
        kinds = set(
            AlertRule.objects.filter(organization=organization).values_list("kind", flat=True)
        )
    assert {"vehicle_offline", "speeding", "geofence_exit", "late", "pod_far_from_address"} <= kinds
