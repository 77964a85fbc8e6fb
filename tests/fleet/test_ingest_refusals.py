"""Where an organization requires device tokens, the OsmAnd endpoint refuses an unknown device
and a known device without its token with the very same answer, so it is no oracle of which
ids exist; the batch API likewise reports another organization's device like a missing one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django_scopes import scopes_disabled

from fleet.ingest.service import IngestService
from tests.conftest import Tenant, build_tenant
from tests.fleet.test_ingest import client, now_ts, positions, require_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def tenants(transactional_db: Any) -> tuple[Tenant, Tenant]:
    return build_tenant("Ingest"), build_tenant("Other")


@sync_to_async
def give_token(tenant: Tenant, token: str) -> None:
    with scopes_disabled():
        tenant.device.set_token(token)
        tenant.device.save(update_fields=["token_hash"])


def answer(response: httpx.Response) -> tuple[int, str, str]:
    return response.status_code, response.headers["content-type"], response.text


async def test_unknown_device_and_wrong_token_answer_alike(
    ingest: IngestService, tenants: tuple[Tenant, Tenant]
) -> None:
    tenant, _ = tenants
    await require_token(tenant)
    known = tenant.device.identifier
    async with client() as http:
        form: dict[str, Any] = {}
        for label, identifier, token in (
            ("unknown", "no-such-device", None),
            ("missing", known, None),
            ("wrong", known, "guess"),
        ):
            params: dict[str, Any] = {"id": identifier, "lat": 52.37, "lon": 4.89}
            if token:
                params["token"] = token
            form[label] = await http.get("/ingest/osmand/", params=params)
        as_json = {}
        for label, identifier in (("unknown", "no-such-device"), ("missing", known)):
            as_json[label] = await http.post(
                "/ingest/osmand/",
                json={
                    "device_id": identifier,
                    "location": {"coords": {"latitude": 52.37, "longitude": 4.89}},
                },
            )
    assert answer(form["unknown"]) == answer(form["missing"]) == answer(form["wrong"])
    assert form["unknown"].status_code == 400
    assert answer(as_json["unknown"]) == answer(as_json["missing"])
    assert as_json["unknown"].status_code == 404
    assert await positions(tenant) == []


async def test_batch_reports_a_foreign_device_like_a_missing_one(
    ingest: IngestService, tenants: tuple[Tenant, Tenant]
) -> None:
    tenant, other = tenants
    await give_token(other, "other-secret")  # factories give every device the same one
    fix = {"lat": 52.37, "lon": 4.89, "timestamp": now_ts(-2)}
    async with client() as http:
        mixed = await http.post(
            "/api/v1/positions/batch/",
            json={
                "fixes": [
                    {**fix, "device_id": tenant.device.identifier},
                    {**fix, "device_id": other.device.identifier},
                    {**fix, "device_id": "no-such-device"},
                ]
            },
            headers={"Authorization": "Bearer device-secret"},
        )
        # A token that opens none of the devices: refused whether they exist or not.
        foreign_only = await http.post(
            "/api/v1/positions/batch/",
            json={"fixes": [{**fix, "device_id": other.device.identifier}]},
            headers={"Authorization": "Bearer not-a-token"},
        )
        missing_only = await http.post(
            "/api/v1/positions/batch/",
            json={"fixes": [{**fix, "device_id": "no-such-device"}]},
            headers={"Authorization": "Bearer not-a-token"},
        )
    statuses = [r["status"] for r in mixed.json()["results"]]
    assert statuses == ["stored", "unknown_device", "unknown_device"]
    assert answer(foreign_only) == answer(missing_only)
    assert foreign_only.status_code == 401
