"""The inbox websocket (/ws/alerts/) through the real ASGI stack and the real outbox relay:
sign-in and role checks, the open count, live events for the organization and its hubs only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.exceptions
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django_scopes import scopes_disabled

from config.asgi import application
from tenancy.models import Membership, Role
from tests.alerts.factories import alert_open
from tests.conftest import Tenant, build_tenant
from tests.support.outbox import outbox_relay_now

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def tenants(transactional_db: Any) -> tuple[Tenant, Tenant]:
    return build_tenant("Alpha").alerts_build(), build_tenant("Bravo").alerts_build()


@sync_to_async
def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def connect(user: Any | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if user is not None:
        headers.append(
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={await session_cookie(user)}".encode())
        )
    communicator = WebsocketCommunicator(application, "/ws/alerts/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def open_and_relay(tenant: Tenant, **fields: Any) -> Any:
    alert = await sync_to_async(alert_open)(tenant.organization.pk, **fields)
    await sync_to_async(outbox_relay_now)(tenant.organization.pk)
    return alert


async def next_of_type(communicator: WebsocketCommunicator, kind: str) -> dict[str, Any]:
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if message["type"] == kind:
            return message  # type: ignore[no-any-return]


async def test_refusals_close_with_the_live_maps_codes(tenants: tuple[Tenant, Tenant]) -> None:
    alpha, _ = tenants
    for user, code in ((None, 4401), (alpha.users[Role.DRIVER], 4403)):
        communicator = await connect(user)
        assert await communicator.receive_output(timeout=5) == {
            "type": "websocket.close",
            "code": code,
        }


async def test_alerts_reach_their_organization_only(tenants: tuple[Tenant, Tenant]) -> None:
    alpha, bravo = tenants
    mine = await connect(alpha.users[Role.DISPATCHER])
    theirs = await connect(bravo.users[Role.DISPATCHER])
    hello = await mine.receive_json_from(timeout=5)
    assert hello == {"type": "hello", "open_count": 1}  # the fixture's alert
    await theirs.receive_json_from(timeout=5)

    alert = await open_and_relay(alpha, title="Alpha van speeding", hub_id=alpha.hub.pk)
    message = await next_of_type(mine, "alert")
    assert message["event"] == "alert.opened"
    assert message["alert"]["id"] == alert.pk and message["alert"]["title"] == "Alpha van speeding"
    assert isinstance(message["seq"], int)
    assert (await next_of_type(mine, "count"))["open_count"] == 2
    # Bravo's screen hears nothing of it.
    assert await theirs.receive_nothing(timeout=1.5)
    await mine.disconnect()
    await theirs.disconnect()


async def test_a_hub_scoped_dispatcher_hears_only_their_hubs(
    tenants: tuple[Tenant, Tenant],
) -> None:
    alpha, _ = tenants
    dispatcher = alpha.users[Role.DISPATCHER]

    @sync_to_async
    def scope_to_hub() -> None:
        with scopes_disabled():
            Membership.objects.get(user=dispatcher, organization=alpha.organization).hubs.add(
                alpha.hub
            )

    await scope_to_hub()
    communicator = await connect(dispatcher)
    assert (await communicator.receive_json_from(timeout=5))["open_count"] == 1
    await open_and_relay(alpha, title="Elsewhere", hub_id=alpha.hub.pk + 1000)
    assert await communicator.receive_nothing(timeout=1.5)
    here = await open_and_relay(alpha, title="Here", hub_id=alpha.hub.pk)
    message = await next_of_type(communicator, "alert")
    assert message["alert"]["id"] == here.pk
    await communicator.disconnect()


async def test_bad_frames_get_an_error_and_the_socket_stays(
    tenants: tuple[Tenant, Tenant],
) -> None:
    alpha, _ = tenants
    communicator = await connect(alpha.users[Role.MANAGER])
    await communicator.receive_json_from(timeout=5)
    await communicator.send_to(text_data="not json")
    assert (await communicator.receive_json_from(timeout=5))["type"] == "error"
    await communicator.send_json_to({"type": "ping"})
    assert (await communicator.receive_json_from(timeout=5)) == {"type": "pong"}
    await asyncio.sleep(0)
    await communicator.disconnect()


async def test_the_inbox_rides_out_a_redis_outage_and_resyncs(
    tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The channel layer's Redis calls fail for a while (a fault injected at the layer, as
    redis-py raises it): the socket stays open, and once Redis answers again the consumer says
    hello again (the screen reloads its list) and live events flow as before."""
    alpha, _ = tenants
    mine = await connect(alpha.users[Role.DISPATCHER])
    assert (await mine.receive_json_from(timeout=5))["type"] == "hello"
    layer = get_channel_layer()
    real_receive, real_group_add = layer.receive, layer.group_add
    redis_down = True

    async def receive(channel: str) -> dict[str, Any]:
        if redis_down:
            raise redis.exceptions.ConnectionError("Error 111 connecting to redis")
        return await real_receive(channel)  # type: ignore[no-any-return]

    async def group_add(group: str, channel: str) -> None:
        if redis_down:
            raise redis.exceptions.ConnectionError("Error 111 connecting to redis")
        await real_group_add(group, channel)

    monkeypatch.setattr(layer, "receive", receive)
    monkeypatch.setattr(layer, "group_add", group_add)
    # The consumer's read in flight returns with this event; its next read meets the outage.
    await open_and_relay(alpha, title="Before the outage", hub_id=alpha.hub.pk)
    assert (await next_of_type(mine, "alert"))["alert"]["title"] == "Before the outage"
    assert (await next_of_type(mine, "count"))["open_count"] == 2
    assert await mine.receive_nothing(timeout=2.5)  # open: no close, no 1011

    redis_down = False
    assert (await mine.receive_json_from(timeout=5)) == {"type": "hello", "open_count": 2}
    after = await open_and_relay(alpha, title="After the outage", hub_id=alpha.hub.pk)
    assert (await next_of_type(mine, "alert"))["alert"]["id"] == after.pk
    await mine.disconnect()


def _speeding_evaluated(tenant: Tenant) -> list[int]:
    """A speeding episode's fixes evaluated by the streaming runner (no relay); the ids of the
    outbox events it wrote, in order."""
    from alerts.evaluation.streaming import positions_evaluate
    from tenancy.context import tenant_context
    from tenancy.outbox.models import OutboxEvent
    from tests.alerts.support import at, positions_insert, rule_create
    from tests.alerts.tracks import drive

    rule_create(tenant, "speeding", params={"limit_kmh": 90, "min_seconds": 0})
    positions_insert(
        tenant, [*drive(start_t=0, seconds=30, kmh=50), *drive(start_t=35, seconds=30, kmh=120)]
    )
    with tenant_context(tenant.organization.pk):
        result = positions_evaluate(
            organization_id=tenant.organization.pk, vehicle_ids=[tenant.vehicle.pk],
            since=at(0), now=at(3600),
        )  # fmt: skip
        assert result.opened == 1
        return list(
            OutboxEvent.objects.filter(organization_id=tenant.organization.pk, kind="alert.opened")
            .order_by("id")
            .values_list("pk", flat=True)
        )


async def test_the_streaming_runner_pushes_its_alert_on_commit_and_the_relay_adds_no_copy(
    tenants: tuple[Tenant, Tenant],
) -> None:
    alpha, _ = tenants
    screen = await connect(alpha.users[Role.DISPATCHER])
    assert (await screen.receive_json_from(timeout=5))["type"] == "hello"
    # Through the fast path only: nothing has relayed the event yet.
    [event_id] = await sync_to_async(_speeding_evaluated)(alpha)
    message = await next_of_type(screen, "alert")
    assert message["event"] == "alert.opened" and message["seq"] == event_id
    assert message["alert"]["vehicle_id"] == alpha.vehicle.pk
    assert (await next_of_type(screen, "count"))["open_count"] == 2
    # The relay delivers the same event to the screens again (its guarantee): dropped here.
    await sync_to_async(outbox_relay_now)(alpha.organization.pk)
    while not await screen.receive_nothing(timeout=1.5):
        later = await screen.receive_json_from(timeout=5)
        assert later["type"] == "count", f"a copy reached the screen: {later}"
    await screen.disconnect()
