"""Signing in, roles, organization switching and login throttling."""

from __future__ import annotations

import pytest
from django.test import Client

from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login() -> None:
    response = Client().get("/map/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_form_signs_in_and_lands_on_role_home(tenant_a: Tenant) -> None:
    client = Client()
    response = client.post(
        "/login/", {"username": "alpha-dispatcher", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/map/"
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        (Role.ADMIN, "/map/"),
        (Role.DISPATCHER, "/map/"),
        (Role.MANAGER, "/dashboards/"),
        (Role.SUPPORT, "/orders/"),
        (Role.DRIVER, "/driver/"),
    ],
)
def test_each_role_lands_on_its_page(tenant_a: Tenant, role: str, landing: str) -> None:
    response = login(tenant_a.users[role]).get("/")
    assert response.status_code == 302
    assert response["Location"] == landing


def test_driver_cannot_open_dispatch_console(tenant_a: Tenant) -> None:
    assert login(tenant_a.users[Role.DRIVER]).get("/map/").status_code == 403


def test_only_admins_open_django_admin(tenant_a: Tenant) -> None:
    assert login(tenant_a.users[Role.ADMIN]).get("/admin/").status_code == 200
    for role in (Role.MANAGER, Role.DISPATCHER, Role.SUPPORT, Role.DRIVER):
        assert login(tenant_a.users[role]).get("/admin/").status_code == 403


def test_user_without_membership_is_told_so() -> None:
    user = UserFactory.create()
    response = login(user).get("/")
    assert response.status_code == 403
    assert "not part of an organization" in response.content.decode()


def test_member_of_two_organizations_switches(tenant_a: Tenant, tenant_b: Tenant) -> None:
    user = UserFactory.create(username="both")
    MembershipFactory.create(user=user, organization=tenant_a.organization, role=Role.DISPATCHER)
    MembershipFactory.create(user=user, organization=tenant_b.organization, role=Role.ADMIN)
    client = login(user)
    # Memberships are ordered by organization name: Alpha first.
    assert login(user).get("/admin/").status_code == 403
    client.post("/organization/switch/", {"organization_id": tenant_b.organization.pk})
    response = client.get("/admin/fleet/vehicle/")
    assert response.status_code == 200
    body = response.content.decode()
    assert tenant_b.vehicle.plate in body
    assert tenant_a.vehicle.plate not in body


def test_repeated_bad_logins_are_locked_out(tenant_a: Tenant) -> None:
    client = Client()
    for _ in range(4):
        response = client.post("/login/", {"username": "alpha-dispatcher", "password": "wrong"})
        assert response.status_code == 200
    # The fifth failure locks the account from this address; even the right password is refused.
    assert (
        client.post("/login/", {"username": "alpha-dispatcher", "password": "x"}).status_code == 429
    )
    response = client.post("/login/", {"username": "alpha-dispatcher", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many" in response.content.decode()


def test_org_admin_adds_a_member_with_a_new_login(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    response = client.post(
        "/admin/tenancy/membership/add/",
        {"username": "newbie", "email": "", "password": "a-long-enough-pass-42", "role": "support"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    newbie_client = Client()
    assert (
        newbie_client.post(
            "/login/", {"username": "newbie", "password": "a-long-enough-pass-42"}
        ).status_code
        == 302
    )
    assert newbie_client.get("/").headers["Location"] == "/orders/"


def test_superuser_without_organization_lands_in_admin() -> None:
    root = UserFactory.create(username="root", is_superuser=True, is_staff=True)
    response = login(root).get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_api_docs_load_nothing_from_a_cdn(tenant_a: Tenant) -> None:
    body = login(tenant_a.users[Role.ADMIN]).get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/" in body
    assert "cdn.jsdelivr" not in body and "unpkg" not in body
