"""A request without an organization sees nothing: not through the ORM (a scope that matches
nothing, never django-scopes' "no filter" for None) and not through SQL (no setting, no rows)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django_scopes import scopes_disabled

from tenancy.context import current_context
from tenancy.middleware import OrganizationScopeMiddleware
from tenancy.rls import tenant_tables
from tests.conftest import Tenant, login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def tenant_models() -> list[Any]:
    return [
        model
        for model in apps.get_models()
        if any(f.name == "organization" for f in model._meta.get_fields())
        and hasattr(getattr(model, "objects", None), "with_scopes_disabled")
    ]


def visible_rows(request: HttpRequest) -> HttpResponse:
    """What a view would see: per tenant model through the ORM, per table through SQL."""
    orm = {m.__name__: m.objects.count() for m in tenant_models()}
    with scopes_disabled(), connection.cursor() as cursor:
        sql = {}
        for table in tenant_tables(cursor):
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608
            sql[table] = cursor.fetchone()[0]
    context = current_context()
    request.seen = {"orm": orm, "sql": sql, "access": context and context.access}  # type: ignore[attr-defined]
    return HttpResponse("ok")


def through_middleware(request: HttpRequest) -> dict[str, Any]:
    def chain(req: HttpRequest) -> HttpResponse:
        return OrganizationScopeMiddleware(visible_rows)(req)

    SessionMiddleware(lambda r: AuthenticationMiddleware(chain)(r))(request)
    return request.seen  # type: ignore[attr-defined,no-any-return]


def assert_sees_nothing(seen: dict[str, Any]) -> None:
    assert seen["access"] == "none"
    assert len(seen["orm"]) >= 15 and len(seen["sql"]) >= 15
    assert {k: v for k, v in seen["orm"].items() if v} == {}
    assert {k: v for k, v in seen["sql"].items() if v} == {}


def test_anonymous_request_sees_zero_rows(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert_sees_nothing(through_middleware(RequestFactory().get("/orders/")))


def test_token_request_before_authentication_sees_zero_rows(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    request = RequestFactory().get("/api/v1/orders/", HTTP_AUTHORIZATION="Token whatever")
    assert_sees_nothing(through_middleware(request))


def test_user_without_membership_sees_zero_rows(tenant_a: Tenant, tenant_b: Tenant) -> None:
    lonely = UserFactory.create(username="lonely")
    client = login(lonely)
    request = RequestFactory().get("/orders/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    assert_sees_nothing(through_middleware(request))


def test_superuser_outside_admin_gets_no_operator_access(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    root = UserFactory.create(username="root", is_superuser=True, is_staff=True)
    client = login(root)
    request = RequestFactory().get("/orders/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    assert_sees_nothing(through_middleware(request))


def test_a_member_sees_only_their_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users["dispatcher"])
    request = RequestFactory().get("/orders/")
    request.COOKIES = {k: v.value for k, v in client.cookies.items()}
    seen = through_middleware(request)
    assert seen["access"] == "tenant"
    with scopes_disabled(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM fleet_hub WHERE organization_id = %s", [tenant_a.organization.pk]
        )
        own_hubs = cursor.fetchone()[0]
    assert seen["sql"]["fleet_hub"] == seen["orm"]["Hub"] == own_hubs >= 1


def test_domain_code_never_disables_the_guard_by_hand() -> None:
    """Cross-tenant reads go through named resolvers or operator_context(), never
    scopes_disabled() / scope(organization=None) scattered through the apps."""
    offenders = []
    for app in ("fleet", "deliveries", "alerts", "reporting", "console", "config"):
        for path in (REPO / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                name = getattr(node, "id", None) or getattr(node, "attr", None)
                if name == "scopes_disabled":
                    offenders.append(f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}")
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "scope":
                    offenders.append(f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}")
    assert offenders == []
