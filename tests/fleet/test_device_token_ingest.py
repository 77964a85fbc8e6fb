"""A device made over the API sends fixes with the token the API answered; after a rotation the
ingest takes the new token and refuses the old one (once its device directory reloaded)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async

from config.asgi import application
from fleet.ingest.service import IngestService
from tests.conftest import Tenant, build_tenant
from tests.support.api_clients import scoped_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def tenant(transactional_db: Any) -> Tenant:
    return build_tenant("Rotate")


async def send_fix(http: httpx.AsyncClient, identifier: str, token: str, offset: int) -> str:
    """The fix's own result ("stored"...), or the request's status code when it was refused."""
    fix = {
        "device_id": identifier,
        "lat": 52.37,
        "lon": 4.89,
        "timestamp": int(dt.datetime.now(dt.UTC).timestamp()) - offset,
    }
    response = await http.post(
        "/api/v1/positions/batch/",
        json={"fixes": [fix]},
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code != 200:
        return str(response.status_code)
    return str(response.json()["results"][0]["status"])


async def test_the_answered_token_opens_the_ingest_and_rotation_replaces_it(
    ingest: IngestService, tenant: Tenant
) -> None:
    _, admin = await sync_to_async(scoped_token)(tenant.organization, ["admin"])
    api = {"Authorization": f"Token {admin}"}
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        created = await http.post(
            "/api/v1/devices/", json={"identifier": "rotate-me", "protocol": "json"}, headers=api
        )
        assert created.status_code == 201, created.text
        device = created.json()
        await ingest.directory.reload()  # what the periodic reload does within 30 s
        assert await send_fix(http, "rotate-me", device["token"], 30) == "stored"
        rotated = await http.post(
            f"/api/v1/devices/{device['id']}/rotate-token/", json={}, headers=api
        )
        assert rotated.status_code == 200, rotated.text
        await ingest.directory.reload()
        assert await send_fix(http, "rotate-me", device["token"], 20) == "401"
        assert await send_fix(http, "rotate-me", rotated.json()["token"], 10) == "stored"
