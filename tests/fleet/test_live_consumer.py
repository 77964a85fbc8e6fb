"""The live map websocket through the real ASGI stack: auth, origin, tenant and hub scope,
snapshots, filters and per-interval coalescing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django_scopes import scopes_disabled

from config.asgi import application
from fleet.live.schema import live_group
from fleet.models import Hub, Vehicle, VehicleState
from tenancy.models import Membership, Role
from tests.conftest import Tenant, build_tenant
from tests.factories import HubFactory, VehicleFactory, ZoneFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def tenants(transactional_db: Any) -> tuple[Tenant, Tenant]:
    return build_tenant("Alpha"), build_tenant("Bravo")


@sync_to_async
def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def connect(
    user: Any | None, origin: str = "http://127.0.0.1"
) -> tuple[WebsocketCommunicator, Any]:
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1")]
    if user is not None:
        headers.append(
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={await session_cookie(user)}".encode())
        )
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, (connected, code)


def vehicle_message(
    vehicle_id: int, *, hub_id: int, lat: float = 52.37, status: str = "moving", plate: str = "X"
) -> dict[str, Any]:
    return {
        "id": vehicle_id,
        "plate": plate,
        "name": "",
        "hub_id": hub_id,
        "hub": "h",
        "driver": None,
        "device": None,
        "tags": [],
        "lat": lat,
        "lon": 4.89,
        "speed_kmh": 30,
        "heading": 10,
        "status": status,
        "fix_time": "2026-11-25T12:00:00+00:00",
        "battery_pct": None,
    }


async def subscribe(
    communicator: WebsocketCommunicator, filters: dict[str, Any] | None = None, interval: int = 1
) -> dict[str, Any]:
    await communicator.send_json_to(
        {"type": "subscribe", "filters": filters or {}, "interval": interval}
    )
    return await communicator.receive_json_from(timeout=5)


async def test_anonymous_is_closed(tenants: tuple[Tenant, Tenant]) -> None:
    communicator, _ = await connect(None)
    # Accepted, then closed with a code the browser can read (a refused handshake is just 1006).
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}


async def test_foreign_origin_is_refused(tenants: tuple[Tenant, Tenant]) -> None:
    alpha, _ = tenants
    _communicator, (connected, _) = await connect(
        alpha.users[Role.DISPATCHER], origin="http://evil.example"
    )
    assert connected is False


async def test_driver_role_is_refused(tenants: tuple[Tenant, Tenant]) -> None:
    alpha, _ = tenants
    communicator, _ = await connect(alpha.users[Role.DRIVER])
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}


async def test_snapshot_holds_only_own_vehicles_and_foreign_groups_never_arrive(
    tenants: tuple[Tenant, Tenant],
) -> None:
    alpha, bravo = tenants
    communicator, (connected, _) = await connect(alpha.users[Role.DISPATCHER])
    assert connected
    snapshot = await subscribe(communicator)
    assert snapshot["type"] == "snapshot"
    assert [v["plate"] for v in snapshot["vehicles"]] == [alpha.vehicle.plate]
    layer = get_channel_layer()
    await layer.group_send(
        live_group(bravo.organization.pk),
        {
            "type": "positions.update",
            "vehicles": [vehicle_message(bravo.vehicle.pk, hub_id=bravo.hub.pk)],
        },
    )
    assert await communicator.receive_nothing(timeout=1.5)
    await communicator.disconnect()


async def test_foreign_zone_in_filter_is_unknown(tenants: tuple[Tenant, Tenant]) -> None:
    alpha, bravo = tenants
    communicator, _ = await connect(alpha.users[Role.DISPATCHER])
    reply = await subscribe(communicator, {"zone": bravo.zone.pk})
    assert reply == {"type": "error", "message": "unknown zone"}
    reply = await subscribe(communicator, {"status": ["flying"]})
    assert reply["type"] == "error"
    await communicator.disconnect()


async def test_updates_are_coalesced_per_interval(tenants: tuple[Tenant, Tenant]) -> None:
    alpha, _ = tenants
    communicator, _ = await connect(alpha.users[Role.DISPATCHER])
    await subscribe(communicator, interval=1)
    layer = get_channel_layer()
    for step in range(5):
        await layer.group_send(
            live_group(alpha.organization.pk),
            {
                "type": "positions.update",
                "vehicles": [vehicle_message(alpha.vehicle.pk, hub_id=alpha.hub.pk, lat=52 + step)],
            },
        )
    frame = await communicator.receive_json_from(timeout=3)
    assert frame["type"] == "update"
    assert [v["lat"] for v in frame["vehicles"]] == [56]  # only the latest of five fixes
    assert await communicator.receive_nothing(timeout=1.2)
    # A quiet fleet still gets an empty frame now and then, so the screen knows it is live.
    heartbeat = await communicator.receive_json_from(timeout=6)
    assert (heartbeat["type"], heartbeat["vehicles"], heartbeat["removed"]) == ("update", [], [])
    await communicator.disconnect()


async def test_filter_hides_and_reports_removed(tenants: tuple[Tenant, Tenant]) -> None:
    alpha, _ = tenants
    await sync_to_async(_state)(alpha, status="moving")
    communicator, _ = await connect(alpha.users[Role.DISPATCHER])
    snapshot = await subscribe(communicator, {"status": ["moving"]}, interval=1)
    assert [v["id"] for v in snapshot["vehicles"]] == [alpha.vehicle.pk]
    layer = get_channel_layer()
    await layer.group_send(
        live_group(alpha.organization.pk),
        {
            "type": "positions.update",
            "vehicles": [
                vehicle_message(
                    alpha.vehicle.pk,
                    hub_id=alpha.hub.pk,
                    status="stopped",
                    plate=alpha.vehicle.plate,
                )
            ],
        },
    )
    frame = await communicator.receive_json_from(timeout=3)
    assert frame["vehicles"] == [] and frame["removed"] == [alpha.vehicle.pk]
    text = await subscribe(communicator, {"q": alpha.vehicle.plate[-4:].lower()})
    assert [v["id"] for v in text["vehicles"]] == [alpha.vehicle.pk]
    none = await subscribe(communicator, {"q": "no-such-plate"})
    assert none["vehicles"] == []
    await communicator.disconnect()


def _state(tenant: Tenant, *, status: str) -> None:
    from django.utils import timezone

    with scopes_disabled():
        VehicleState.objects.create(
            organization=tenant.organization,
            vehicle=tenant.vehicle,
            device=tenant.device,
            fix_time=timezone.now(),
            server_time=timezone.now(),
            latitude=52.37,
            longitude=4.89,
            speed_kmh=30,
            status=status,
        )


def _hub_scoped_dispatcher(tenant: Tenant) -> tuple[Any, Vehicle]:
    """A dispatcher scoped to the tenant's hub, and a vehicle of a second hub they must not see."""
    with scopes_disabled():
        other_hub: Hub = HubFactory.create(organization=tenant.organization, name="Other Hub")
        other_vehicle: Vehicle = VehicleFactory.create(
            organization=tenant.organization, hub=other_hub, plate="OTHER-HUB-1"
        )
        membership = Membership.objects.get(user=tenant.users[Role.DISPATCHER])
        membership.hubs.set([tenant.hub])
    return tenant.users[Role.DISPATCHER], other_vehicle


async def test_hub_scoped_dispatcher_only_receives_their_hubs(
    tenants: tuple[Tenant, Tenant],
) -> None:
    alpha, _ = tenants
    user, other_vehicle = await sync_to_async(_hub_scoped_dispatcher)(alpha)
    communicator, _ = await connect(user)
    snapshot = await subscribe(communicator, interval=1)
    assert [v["plate"] for v in snapshot["vehicles"]] == [alpha.vehicle.plate]
    layer = get_channel_layer()
    await layer.group_send(
        live_group(alpha.organization.pk),
        {
            "type": "positions.update",
            "vehicles": [vehicle_message(other_vehicle.pk, hub_id=other_vehicle.hub_id)],
        },
    )
    assert await communicator.receive_nothing(timeout=1.5)
    await communicator.disconnect()


async def test_hub_scoped_dispatcher_cannot_filter_on_another_hubs_zone(
    tenants: tuple[Tenant, Tenant],
) -> None:
    alpha, _ = tenants
    user, other_vehicle = await sync_to_async(_hub_scoped_dispatcher)(alpha)
    create_zone = sync_to_async(ZoneFactory.create)
    foreign_zone = await create_zone(organization=alpha.organization, hub_id=other_vehicle.hub_id)
    org_wide = await create_zone(organization=alpha.organization, hub=None)
    communicator, _ = await connect(user)
    reply = await subscribe(communicator, {"zone": foreign_zone.pk})
    assert reply == {"type": "error", "message": "unknown zone"}
    assert (await subscribe(communicator, {"zone": org_wide.pk}))["type"] == "snapshot"
    assert (await subscribe(communicator, {"zone": alpha.zone.pk}))["type"] == "snapshot"
    await communicator.disconnect()


async def test_reconnect_gets_a_fresh_snapshot(tenants: tuple[Tenant, Tenant]) -> None:
    alpha, _ = tenants
    communicator, _ = await connect(alpha.users[Role.DISPATCHER])
    await subscribe(communicator)
    await communicator.disconnect()
    await asyncio.sleep(0.1)
    await sync_to_async(_state)(alpha, status="idle")
    again, _ = await connect(alpha.users[Role.DISPATCHER])
    snapshot = await subscribe(again)
    assert snapshot["vehicles"][0]["status"] == "idle"
    assert snapshot["vehicles"][0]["lat"] == 52.37
    await again.disconnect()


async def test_screens_of_one_organization_share_the_feed(tenants: tuple[Tenant, Tenant]) -> None:
    alpha, _ = tenants
    screens = [(await connect(alpha.users[role]))[0] for role in (Role.DISPATCHER, Role.SUPPORT)]
    for screen in screens:
        await subscribe(screen, interval=1)
    await get_channel_layer().group_send(
        live_group(alpha.organization.pk),
        {
            "type": "positions.update",
            "vehicles": [vehicle_message(alpha.vehicle.pk, hub_id=alpha.hub.pk, lat=51.5)],
        },
    )
    for screen in screens:
        frame = await screen.receive_json_from(timeout=3)
        assert [v["lat"] for v in frame["vehicles"]] == [51.5]
        await screen.disconnect()


async def test_updates_repeat_descriptive_fields_only_when_they_change(
    tenants: tuple[Tenant, Tenant],
) -> None:
    alpha, _ = tenants
    communicator, _ = await connect(alpha.users[Role.DISPATCHER])
    snapshot = await subscribe(communicator, interval=1)
    (known,) = snapshot["vehicles"]
    layer = get_channel_layer()
    group = live_group(alpha.organization.pk)
    await layer.group_send(
        group, {"type": "positions.update", "vehicles": [{**known, "lat": 51.9, "status": "idle"}]}
    )
    moved = (await communicator.receive_json_from(timeout=3))["vehicles"]
    assert moved == [
        {
            "id": known["id"],
            "lat": 51.9,
            "lon": known["lon"],
            "speed_kmh": known["speed_kmh"],
            "heading": known["heading"],
            "status": "idle",
            "fix_time": known["fix_time"],
            "battery_pct": known["battery_pct"],
        }
    ]
    renamed = {**known, "lat": 51.8, "plate": "RENAMED-1"}
    await layer.group_send(group, {"type": "positions.update", "vehicles": [renamed]})
    assert (await communicator.receive_json_from(timeout=3))["vehicles"] == [renamed]
    await communicator.disconnect()


async def test_a_frame_that_is_not_json_gets_an_error_and_the_socket_stays_open(
    tenants: tuple[Tenant, Tenant],
) -> None:
    alpha, _ = tenants
    communicator, _ = await connect(alpha.users[Role.DISPATCHER])
    await communicator.send_to(text_data="{not json")
    reply = await communicator.receive_json_from(timeout=5)
    assert (reply["type"], reply["error"]) == ("error", "invalid_json")
    await communicator.send_to(bytes_data=b"\x00\x01")
    reply = await communicator.receive_json_from(timeout=5)
    assert (reply["type"], reply["error"]) == ("error", "invalid_json")
    for wrong_shape in ([1, 2], "subscribe", {"type": "unsubscribe"}, None):
        await communicator.send_json_to(wrong_shape)
        reply = await communicator.receive_json_from(timeout=5)
        assert (reply["type"], reply["error"]) == ("error", "invalid_message"), wrong_shape
    # Still open and serving: a good subscribe after all that gets its snapshot.
    assert (await subscribe(communicator))["type"] == "snapshot"
    await communicator.disconnect()
