"""The driver app's phone GPS: the token the page gets works on the real batch ingest API and
puts a vehicle without a tracker on the map; an old session's token is refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django_scopes import scope, scopes_disabled

from config.asgi import application
from fleet.ingest.service import IngestService
from fleet.models import Device, Driver, VehicleState
from tenancy.models import Role
from tests.conftest import Tenant, build_tenant, login
from tests.fleet.conftest import ingest  # noqa: F401 - the ingest pipeline fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@sync_to_async
def phone_for_new_session(tenant: Tenant) -> dict[str, Any]:
    response = login(tenant.users[Role.DRIVER]).get("/driver/")
    assert response.status_code == 200
    phone: dict[str, Any] = response.context["app_config"]["phone"]
    return phone


@sync_to_async
def driver_without_tracker() -> Tenant:
    tenant = build_tenant("Phone")
    with scope(organization=tenant.organization.pk):
        Driver.objects.filter(pk=tenant.driver.pk).update(user=tenant.users[Role.DRIVER])
        Device.objects.filter(pk=tenant.device.pk).update(vehicle=None)
    return tenant


@sync_to_async
def vehicle_state(tenant: Tenant) -> VehicleState | None:
    with scopes_disabled():
        return VehicleState.objects.filter(vehicle=tenant.vehicle).first()


async def send(phone: dict[str, Any], token: str, seconds_ago: int) -> httpx.Response:
    fix = {
        "device_id": phone["identifier"],
        "timestamp": (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)).isoformat(),
        "lat": 52.3702,
        "lon": 4.8952,
        "accuracy_m": 8,
        "attributes": {"source": "driver_app"},
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://127.0.0.1"
    ) as http:
        return await http.post(
            "/api/v1/positions/batch/",
            json={"fixes": [fix]},
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_the_phone_token_puts_the_vehicle_on_the_map(
    ingest: IngestService,  # noqa: F811
) -> None:
    tenant = await driver_without_tracker()
    old = await phone_for_new_session(tenant)
    phone = await phone_for_new_session(tenant)  # a new session: the old token is rotated away
    assert phone["identifier"] == old["identifier"] and phone["token"] != old["token"]

    response = await send(phone, phone["token"], seconds_ago=5)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["status"] == "stored"
    state = await vehicle_state(tenant)
    assert state is not None
    assert (state.latitude, state.longitude) == (52.3702, 4.8952)

    refused = await send(phone, old["token"], seconds_ago=2)
    assert refused.status_code == 401
