"""The ingest endpoints end to end through the real ASGI app into the real database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import dj_database_url
import httpx
import psycopg
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django_scopes import scopes_disabled

from config.asgi import application
from fleet.ingest.database import conninfo_from_settings
from fleet.ingest.service import IngestService
from fleet.live.schema import live_group
from fleet.models import Position, RejectedFix, TrackingSettings, VehicleState
from tests.conftest import Tenant, build_tenant

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def now_ts(offset: float = 0) -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() + offset)


@pytest.fixture
def tenant(transactional_db: Any) -> Tenant:
    return build_tenant("Ingest")


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://127.0.0.1"
    )


@sync_to_async
def positions(tenant: Tenant) -> list[Position]:
    with scopes_disabled():
        return list(Position.objects.filter(device_id=tenant.device.pk).order_by("fix_time"))


@sync_to_async
def refusals(tenant: Tenant) -> list[str]:
    with scopes_disabled():
        # Leave out the refusal every test tenant is built with.
        rows = RejectedFix.objects.filter(device=tenant.device).exclude(pk=tenant.rejected_fix.pk)
        return list(rows.order_by("id").values_list("reason", flat=True))


@sync_to_async
def state(tenant: Tenant) -> VehicleState | None:
    with scopes_disabled():
        return VehicleState.objects.filter(vehicle=tenant.vehicle).first()


async def osmand(http: httpx.AsyncClient, tenant: Tenant, **params: Any) -> httpx.Response:
    query: dict[str, Any] = {
        "id": tenant.device.identifier,
        "lat": 52.37,
        "lon": 4.89,
        "timestamp": now_ts(),
    }
    query.update(params)
    return await http.get("/ingest/osmand/", params=query)


async def test_get_fix_is_stored_with_state(ingest: IngestService, tenant: Tenant) -> None:
    async with client() as http:
        response = await osmand(http, tenant, speed=20, bearing=90, batt=77, hdop=1.2)
    assert response.status_code == 200
    assert response.text == "OK"
    (position,) = await positions(tenant)
    assert position.organization_id == tenant.organization.pk
    assert position.vehicle_id == tenant.vehicle.pk
    assert position.speed_kmh == pytest.approx(37.04)
    assert position.attributes == {"hdop": 1.2}
    vehicle_state = await state(tenant)
    assert vehicle_state is not None
    assert vehicle_state.status == "moving"
    assert vehicle_state.battery_pct == 77


async def test_post_form_and_json_variant(ingest: IngestService, tenant: Tenant) -> None:
    async with client() as http:
        form = await http.post(
            "/ingest/osmand/",
            data={
                "id": tenant.device.identifier,
                "lat": "52.1",
                "lon": "4.1",
                "timestamp": now_ts(-20),
            },
        )
        body = {
            "device_id": tenant.device.identifier,
            "location": {
                "timestamp": dt.datetime.now(dt.UTC).isoformat(),
                "coords": {"latitude": 52.1005, "longitude": 4.1, "speed": 5},
            },
        }
        as_json = await http.post("/ingest/osmand/", json=body)
    assert (form.status_code, as_json.status_code) == (200, 200)
    stored = await positions(tenant)
    assert [p.latitude for p in stored] == [52.1, 52.1005]
    assert stored[1].speed_kmh == pytest.approx(18.0)


async def test_unknown_device_stores_nothing(ingest: IngestService, tenant: Tenant) -> None:
    async with client() as http:
        plain = await http.get("/ingest/osmand/", params={"id": "nobody", "lat": 1, "lon": 1})
        as_json = await http.post(
            "/ingest/osmand/",
            json={"device_id": "nobody", "location": {"coords": {"latitude": 1, "longitude": 1}}},
        )
    assert plain.status_code == 400
    assert as_json.status_code == 404
    assert await positions(tenant) == []


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"lat": 95}, "invalid_coordinates"),
        ({"lat": "NaN"}, "invalid_coordinates"),
        ({"lat": 0, "lon": 0}, "null_island"),
        ({"timestamp": now_ts(3600)}, "future"),
        ({"timestamp": now_ts(-30 * 86400)}, "too_old"),
        ({"accuracy": 5000}, "low_accuracy"),
    ],
)
async def test_filters_refuse_and_record(
    ingest: IngestService, tenant: Tenant, params: dict[str, Any], reason: str
) -> None:
    async with client() as http:
        response = await osmand(http, tenant, **params)
    assert response.status_code == 200  # acknowledged, so the device does not resend it forever
    assert await positions(tenant) == []
    assert await refusals(tenant) == [reason]
    assert await state(tenant) is None


async def test_speed_jump_refused(ingest: IngestService, tenant: Tenant) -> None:
    async with client() as http:
        await osmand(http, tenant, timestamp=now_ts(-10))
        await osmand(http, tenant, timestamp=now_ts(), lat=53.37)  # 111 km in 10 s
    assert len(await positions(tenant)) == 1
    assert await refusals(tenant) == ["speed_jump"]


async def test_resend_is_stored_exactly_once(ingest: IngestService, tenant: Tenant) -> None:
    timestamp = now_ts(-5)
    async with client() as http:
        first = await osmand(http, tenant, timestamp=timestamp)
        again = await osmand(http, tenant, timestamp=timestamp)
        # The same fix twice inside one flush, too.
        together = await asyncio.gather(
            osmand(http, tenant, timestamp=timestamp + 1),
            osmand(http, tenant, timestamp=timestamp + 1),
        )
    assert [first.status_code, again.status_code, *(r.status_code for r in together)] == [200] * 4
    assert len(await positions(tenant)) == 2
    assert await refusals(tenant) == ["duplicate", "duplicate"]


async def test_resend_stored_by_another_process_is_a_duplicate(
    ingest: IngestService, tenant: Tenant
) -> None:
    """The fast path copies fixes newer than this process's last known one straight into the
    table; a fix another process already stored breaks the key there, and the careful path
    reports it as a duplicate instead of failing the flush or storing it twice."""
    timestamp = now_ts(-5)
    async with client() as http:
        assert (await osmand(http, tenant, timestamp=timestamp)).status_code == 200
        ingest.directory.last_fix.clear()  # as if another web process had stored it
        again = await osmand(http, tenant, timestamp=timestamp)
        later = await osmand(http, tenant, timestamp=timestamp + 1)
    assert (again.status_code, later.status_code) == (200, 200)
    assert ingest.writer.copy_conflicts == 1
    assert len(await positions(tenant)) == 2
    assert await refusals(tenant) == ["duplicate"]


def owner_user() -> str:
    return str(dj_database_url.parse(settings.DATABASE_URL)["USER"])


async def test_directory_refresh_never_holds_up_requests(
    ingest: IngestService, tenant: Tenant
) -> None:
    """The periodic reload of the device directory runs in the background: while it is stuck
    (here: waiting on a table lock held by another session), fixes are still answered."""
    async with client() as http:
        assert (await osmand(http, tenant, timestamp=now_ts(-30))).status_code == 200
        ingest.directory.max_age = 0.0  # every request now finds the directory due a reload
        # The owner takes the lock: the ingest role may only read that table.
        owner = conninfo_from_settings().replace(
            f"user={settings.DB_INGEST['USER']}", f"user={owner_user()}"
        )
        async with await psycopg.AsyncConnection.connect(owner) as blocker:
            await blocker.execute("LOCK TABLE fleet_trackingsettings IN ACCESS EXCLUSIVE MODE")
            answers = [
                await asyncio.wait_for(osmand(http, tenant, timestamp=now_ts(-20 + step)), 5)
                for step in range(3)
            ]
            refresh = ingest.directory._refresh
            assert refresh is not None and not refresh.done()  # stuck behind the lock
            await blocker.rollback()
        await asyncio.wait_for(refresh, 5)
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert len(await positions(tenant)) == 4


async def test_out_of_order_fix_kept_in_history_but_never_moves_the_vehicle(
    ingest: IngestService, tenant: Tenant
) -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(live_group(tenant.organization.pk), channel)
    async with client() as http:
        await osmand(http, tenant, timestamp=now_ts(), lat=52.38)
        await layer.receive(channel)  # the newer fix's broadcast
        await osmand(http, tenant, timestamp=now_ts(-60), lat=52.36)
    assert [p.latitude for p in await positions(tenant)] == [52.36, 52.38]
    vehicle_state = await state(tenant)
    assert vehicle_state is not None and vehicle_state.latitude == 52.38
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.5)  # and no event fired for it
    await layer.group_discard(live_group(tenant.organization.pk), channel)


async def test_concurrent_requests_share_group_commits(
    ingest: IngestService, tenant: Tenant
) -> None:
    base = now_ts(-100)
    async with client() as http:
        responses = await asyncio.gather(
            *(osmand(http, tenant, timestamp=base + i, lat=52.37 + i * 1e-5) for i in range(60))
        )
    assert all(r.status_code == 200 for r in responses)
    assert len(await positions(tenant)) == 60
    assert ingest.writer.flushes < 45  # requests share transactions instead of one each


async def test_broadcast_reaches_the_organization_group(
    ingest: IngestService, tenant: Tenant
) -> None:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(live_group(tenant.organization.pk), channel)
    async with client() as http:
        await osmand(http, tenant, speed=30)
    message = await asyncio.wait_for(layer.receive(channel), 3)
    (vehicle,) = message["vehicles"]
    assert vehicle["id"] == tenant.vehicle.pk
    assert vehicle["plate"] == tenant.vehicle.plate
    assert vehicle["status"] == "moving"
    await layer.group_discard(live_group(tenant.organization.pk), channel)


@sync_to_async
def require_token(tenant: Tenant, speed_unit: str = "kn") -> None:
    with scopes_disabled():
        TrackingSettings.objects.filter(organization=tenant.organization).update(
            require_device_token=True
        )
        tenant.organization.osmand_speed_unit = speed_unit
        tenant.organization.save()


async def test_organization_can_require_the_device_token(
    ingest: IngestService, tenant: Tenant
) -> None:
    await require_token(tenant, speed_unit="kmh")
    async with client() as http:
        missing = await osmand(http, tenant, timestamp=now_ts(-2))
        wrong = await osmand(http, tenant, timestamp=now_ts(-1), token="guess")
        right = await osmand(http, tenant, token="device-secret", speed=50)
    # Refused exactly like an unknown device (tests/fleet/test_ingest_refusals.py).
    assert (missing.status_code, wrong.status_code, right.status_code) == (400, 400, 200)
    (position,) = await positions(tenant)
    assert position.speed_kmh == 50  # this organization's trackers report km/h


async def test_batch_api(ingest: IngestService, tenant: Tenant) -> None:
    fixes = [
        {"device_id": tenant.device.identifier, "lat": 52.37, "lon": 4.89, "timestamp": now_ts(-3)},
        {"device_id": tenant.device.identifier, "lat": 0, "lon": 0, "timestamp": now_ts(-2)},
        {"device_id": "someone-else", "lat": 52.0, "lon": 4.0},
        {"lat": 1},
    ]
    async with client() as http:
        response = await http.post(
            "/api/v1/positions/batch/",
            json={"fixes": fixes},
            headers={"Authorization": "Bearer device-secret"},
        )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["stored", "rejected", "unknown_device", "invalid"]
    assert results[1]["reason"] == "null_island"
    assert len(await positions(tenant)) == 1


async def test_batch_api_refuses_bad_requests(ingest: IngestService, tenant: Tenant) -> None:
    fix = {"device_id": tenant.device.identifier, "lat": 52.37, "lon": 4.89}
    async with client() as http:
        no_auth = await http.post("/api/v1/positions/batch/", json={"fixes": [fix]})
        wrong = await http.post(
            "/api/v1/positions/batch/", json={"fixes": [fix]}, headers={"Authorization": "Bearer x"}
        )
        garbage = await http.post(
            "/api/v1/positions/batch/", content=b"{nope", headers={"Authorization": "Bearer x"}
        )
        shape = await http.post(
            "/api/v1/positions/batch/", json=[fix], headers={"Authorization": "Bearer x"}
        )
    assert [no_auth.status_code, wrong.status_code, garbage.status_code, shape.status_code] == [
        401,
        401,
        400,
        400,
    ]
    assert json.loads(garbage.text)["detail"] == "malformed JSON"
    assert await positions(tenant) == []


async def test_malformed_osmand_requests_get_400(ingest: IngestService, tenant: Tenant) -> None:
    async with client() as http:
        no_id = await http.get("/ingest/osmand/", params={"lat": 1, "lon": 1})
        bad_time = await osmand(http, tenant, timestamp="soon")
        bad_json = await http.post(
            "/ingest/osmand/", content=b"{", headers={"content-type": "application/json"}
        )
        wrong_method = await http.delete("/ingest/osmand/")
    assert [no_id.status_code, bad_time.status_code, bad_json.status_code] == [400, 400, 400]
    assert wrong_method.status_code == 405


@sync_to_async
def refusal_rows(tenant: Tenant) -> list[tuple[str, int]]:
    with scopes_disabled():
        rows = RejectedFix.objects.filter(device=tenant.device).exclude(pk=tenant.rejected_fix.pk)
        return list(rows.order_by("fix_time").values_list("reason", "repeats"))


async def test_a_replayed_refused_fix_counts_repeats_on_one_row(
    ingest: IngestService, tenant: Tenant
) -> None:
    """A device replaying its buffer resends the same refused fixes: one row each, counted."""
    refused_at, resent_at = now_ts(-30), now_ts(-20)
    async with client() as http:
        for _ in range(3):  # three replays, three flushes
            assert (
                await osmand(http, tenant, lat=0, lon=0, timestamp=refused_at)
            ).status_code == 200
        # And three copies inside one flush, of a fix first stored then resent as duplicates.
        assert (await osmand(http, tenant, timestamp=resent_at)).status_code == 200
        together = await asyncio.gather(
            *(osmand(http, tenant, timestamp=resent_at) for _ in range(3))
        )
    assert [r.status_code for r in together] == [200] * 3
    assert await refusal_rows(tenant) == [("null_island", 3), ("duplicate", 3)]
    assert len(await positions(tenant)) == 1
