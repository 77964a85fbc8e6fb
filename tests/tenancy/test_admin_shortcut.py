"""Django admin's "view on site" shortcut (/admin/r/<content type>/<id>/) with another
organization's ids: a plain 404, the same as for a missing id, and no DEBUG technical page
even with DEBUG on (as `make run` has it)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django_scopes import scopes_disabled

from fleet.models import Vehicle
from tenancy.models import Membership, Organization, Role
from tests.conftest import Tenant, login

pytestmark = pytest.mark.django_db

TECHNICAL_PAGE_SIGNS = ("Technical", "Traceback", "URLconf", "get_absolute_url", "doesn")


def without_csrf(body: str) -> str:
    # The masked CSRF token differs on every render; nothing else may.
    return re.sub(r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", body)


def shortcut(model: type, object_id: Any) -> str:
    return f"/admin/r/{ContentType.objects.get_for_model(model).pk}/{object_id}/"


def test_foreign_ids_answer_a_plain_404_with_debug_on(
    tenant_a: Tenant, tenant_b: Tenant, settings: Any
) -> None:
    settings.DEBUG = True
    admin = login(tenant_a.users[Role.ADMIN])
    foreign = {
        Vehicle: tenant_b.vehicle.pk,
        Organization: tenant_b.organization.pk,
        **{model: obj.pk for model, obj in tenant_b.objects().items()},
    }
    bodies = set()
    for model, object_id in [*foreign.items(), (Vehicle, 999_999_999), (Vehicle, "not-an-id")]:
        response = admin.get(shortcut(model, object_id))
        assert response.status_code == 404, (model, object_id)
        body = response.content.decode()
        for sign in TECHNICAL_PAGE_SIGNS:
            assert sign not in body, (model, sign)
        for marker in tenant_b.markers:
            assert marker not in body, marker
        bodies.add(without_csrf(body))
    # Own rows without a page of their own read the same: nothing tells foreign from missing.
    own = admin.get(shortcut(Vehicle, tenant_a.vehicle.pk))
    assert own.status_code == 404
    bodies.add(without_csrf(own.content.decode()))
    assert len(bodies) == 1
    with scopes_disabled():
        membership = Membership.objects.get(user=tenant_b.users[Role.ADMIN])
    assert admin.get(shortcut(Membership, membership.pk)).status_code == 404


def test_the_shortcut_is_for_admins_only(tenant_a: Tenant, tenant_b: Tenant) -> None:
    dispatcher = login(tenant_a.users[Role.DISPATCHER])
    assert dispatcher.get(shortcut(Vehicle, tenant_b.vehicle.pk)).status_code == 403
