"""Open live-map sockets end with the session or membership behind them: logout, password
change, deactivation and membership changes close them within seconds, and the timer re-check
catches a session that vanished without an event. Real Daphne-less ASGI stack, real Redis."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client
from django_scopes import scopes_disabled

from config.asgi import application
from tenancy.models import Membership, Role
from tests.conftest import Tenant, build_tenant
from tests.factories import HubFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

CLOSED_SIGNED_OUT = {"type": "websocket.close", "code": 4401}
CLOSED_FORBIDDEN = {"type": "websocket.close", "code": 4403}


@pytest.fixture
def alpha(transactional_db: Any) -> Tenant:
    return build_tenant("Alpha")


@sync_to_async
def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def open_map(client: Client) -> WebsocketCommunicator:
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    snapshot = await subscribe(communicator)
    assert snapshot["type"] == "snapshot"
    return communicator


async def subscribe(communicator: WebsocketCommunicator) -> dict[str, Any]:
    await communicator.send_json_to({"type": "subscribe", "filters": {}, "interval": 1})
    return await communicator.receive_json_from(timeout=5)


async def assert_revoked(communicator: WebsocketCommunicator, closed: dict[str, Any]) -> None:
    assert await communicator.receive_output(timeout=5) == closed
    # Nothing more comes out, not even for a new subscribe.
    await communicator.send_json_to({"type": "subscribe", "filters": {}, "interval": 1})
    assert await communicator.receive_nothing(timeout=1.5)
    await communicator.disconnect()


async def test_logout_closes_the_sessions_socket_and_spares_another_session(
    alpha: Tenant,
) -> None:
    user = alpha.users[Role.DISPATCHER]
    leaving, staying = await signed_in(user), await signed_in(user)
    leaving_map, staying_map = await open_map(leaving), await open_map(staying)
    response = await sync_to_async(leaving.post)("/logout/")
    assert response.status_code == 302
    await assert_revoked(leaving_map, CLOSED_SIGNED_OUT)
    # The user's other browser is still signed in: its map stays live.
    assert (await subscribe(staying_map))["type"] == "snapshot"
    await staying_map.disconnect()


async def test_password_change_closes_the_socket(alpha: Tenant) -> None:
    user = alpha.users[Role.DISPATCHER]
    communicator = await open_map(await signed_in(user))

    @sync_to_async
    def change_password() -> None:
        fresh = get_user_model().objects.get(pk=user.pk)
        fresh.set_password("a-brand-new-passphrase")
        fresh.save()

    await change_password()
    await assert_revoked(communicator, CLOSED_SIGNED_OUT)


async def test_deactivated_user_is_closed(alpha: Tenant) -> None:
    user = alpha.users[Role.SUPPORT]
    communicator = await open_map(await signed_in(user))

    @sync_to_async
    def deactivate() -> None:
        fresh = get_user_model().objects.get(pk=user.pk)
        fresh.is_active = False
        fresh.save()  # as the admin's user form does

    await deactivate()
    await assert_revoked(communicator, CLOSED_SIGNED_OUT)


@sync_to_async
def membership_of(user: Any) -> Membership:
    with scopes_disabled():
        return Membership.objects.get(user=user)


async def test_deleted_membership_closes_the_socket(alpha: Tenant) -> None:
    user = alpha.users[Role.DISPATCHER]
    communicator = await open_map(await signed_in(user))
    membership = await membership_of(user)
    await sync_to_async(membership.delete)()
    await assert_revoked(communicator, CLOSED_FORBIDDEN)


async def test_role_without_map_access_closes_the_socket(alpha: Tenant) -> None:
    user = alpha.users[Role.MANAGER]
    communicator = await open_map(await signed_in(user))
    membership = await membership_of(user)
    membership.role = Role.DRIVER
    await sync_to_async(membership.save)()
    await assert_revoked(communicator, CLOSED_FORBIDDEN)


async def test_a_role_change_that_keeps_map_access_keeps_the_socket(alpha: Tenant) -> None:
    user = alpha.users[Role.MANAGER]
    communicator = await open_map(await signed_in(user))
    membership = await membership_of(user)
    membership.role = Role.DISPATCHER
    await sync_to_async(membership.save)()
    assert (await subscribe(communicator))["type"] == "snapshot"
    await communicator.disconnect()


async def test_narrower_hub_scope_makes_the_screen_reconnect(alpha: Tenant) -> None:
    user = alpha.users[Role.DISPATCHER]
    communicator = await open_map(await signed_in(user))
    membership = await membership_of(user)

    @sync_to_async
    def narrow() -> None:
        with scopes_disabled():
            membership.hubs.set([HubFactory.create(organization=alpha.organization)])

    await narrow()
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4409}
    await communicator.disconnect()


@sync_to_async
def delete_session(client: Client) -> None:
    Session.objects.filter(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value).delete()


async def test_session_deleted_in_the_database_is_caught_on_subscribe(alpha: Tenant) -> None:
    client = await signed_in(alpha.users[Role.DISPATCHER])
    communicator = await open_map(client)
    await delete_session(client)  # no signal announces this
    await communicator.send_json_to({"type": "subscribe", "filters": {}, "interval": 1})
    await assert_revoked(communicator, CLOSED_SIGNED_OUT)


async def test_session_deleted_in_the_database_is_caught_by_the_timer(
    alpha: Tenant, settings: Any
) -> None:
    settings.LIVE_SESSION_RECHECK_SECONDS = 0.5
    client = await signed_in(alpha.users[Role.DISPATCHER])
    communicator = await open_map(client)
    await delete_session(client)
    await assert_revoked(communicator, CLOSED_SIGNED_OUT)


async def test_deactivation_without_a_signal_is_caught_on_subscribe(alpha: Tenant) -> None:
    user = alpha.users[Role.SUPPORT]
    communicator = await open_map(await signed_in(user))
    # A queryset update sends no post_save: only the re-check can see it.
    await sync_to_async(get_user_model().objects.filter(pk=user.pk).update)(is_active=False)
    await communicator.send_json_to({"type": "subscribe", "filters": {}, "interval": 1})
    await assert_revoked(communicator, CLOSED_SIGNED_OUT)
