"""The tenant admin's device form: an identifier already in use, in this organization or any
other, is a plain form error that says nothing about who uses it (it used to be a 500)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django_scopes import scopes_disabled

from fleet.admin import IDENTIFIER_TAKEN
from fleet.models import Device, TrackingSettings
from fleet.selectors import device_identifier_available
from tenancy.models import Role
from tests.conftest import Tenant, login

pytestmark = pytest.mark.django_db


def device_form(identifier: str, **extra: Any) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "name": "",
        "protocol": "osmand",
        "vehicle": "",
        "active": "on",
        "filter_overrides": "{}",
        **extra,
    }


def errors_of(html: str) -> list[str]:
    return re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, flags=re.S)


def test_taken_identifier_is_a_form_error_that_reveals_nothing(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    admin = login(tenant_a.users[Role.ADMIN])
    answers = []
    for identifier in (tenant_b.device.identifier, tenant_a.device.identifier):
        response = admin.post("/admin/fleet/device/add/", device_form(identifier))
        assert response.status_code == 200  # the form again, not a 500
        page = response.content.decode()
        assert IDENTIFIER_TAKEN in page
        # Nothing of the other organization, beyond the identifier typed in (echoed back).
        for marker in tenant_b.markers:
            if marker != identifier:
                assert marker not in page, marker
        answers.append(errors_of(page))
    # A foreign clash and an own clash read exactly the same.
    assert answers[0] == answers[1] and answers[0]
    with scopes_disabled():
        assert Device.objects.filter(identifier=tenant_b.device.identifier).count() == 1


def test_free_identifier_is_added_and_own_device_keeps_its_identifier(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    admin = login(tenant_a.users[Role.ADMIN])
    added = admin.post("/admin/fleet/device/add/", device_form("alpha-new-tracker"))
    assert added.status_code == 302, errors_of(added.content.decode())
    own = tenant_a.device
    edited = admin.post(
        f"/admin/fleet/device/{own.pk}/change/",
        device_form(own.identifier, name="renamed", vehicle=str(own.vehicle_id)),
    )
    assert edited.status_code == 302, errors_of(edited.content.decode())
    renamed = admin.post(
        f"/admin/fleet/device/{own.pk}/change/",
        device_form(tenant_b.device.identifier, vehicle=str(own.vehicle_id)),
    )
    assert renamed.status_code == 200 and IDENTIFIER_TAKEN in renamed.content.decode()


def test_device_identifier_available_reads_across_organizations(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    assert not device_identifier_available(tenant_b.device.identifier)
    assert device_identifier_available(
        tenant_b.device.identifier, exclude_device_id=tenant_b.device.pk
    )
    assert device_identifier_available("nobody-has-this")


def test_tenant_admin_turns_device_tokens_on_from_the_list(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    admin = login(tenant_a.users[Role.ADMIN])
    listing = admin.get("/admin/fleet/trackingsettings/")
    assert listing.status_code == 200 and "form-0-require_device_token" in listing.content.decode()
    settings_id = tenant_a.tracking_settings.pk
    response = admin.post(
        "/admin/fleet/trackingsettings/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(settings_id),
            "form-0-require_device_token": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, errors_of(response.content.decode())
    with scopes_disabled():
        assert TrackingSettings.objects.get(pk=settings_id).require_device_token is True
        assert (
            TrackingSettings.objects.get(pk=tenant_b.tracking_settings.pk).require_device_token
            is False
        )
    # The change form leads with it, and a second row cannot be added.
    change = admin.get(f"/admin/fleet/trackingsettings/{settings_id}/change/").content.decode()
    assert "Device security" in change and "id_require_device_token" in change
    assert admin.get("/admin/fleet/trackingsettings/add/").status_code == 403
