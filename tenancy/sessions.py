"""Open websockets follow their session: when a session ends or the user's access changes, the
user's sockets are told, and each one checks whether it may stay open.

A socket joins the channel-layer group `user_socket_group(user_id)` when it connects. Events
that can end access (logout, password change, deactivation, a membership removed or changed)
send `SESSION_REVOKED` to that group once the change is committed. A socket whose session was
the one logged out closes at once; any other re-checks with `session_is_current` (the session
still exists, belongs to the user, matches the current password and the user is active) and
with its own membership rules. The same check runs on a timer, for changes no event announces
(a session row deleted in the database, an expired session).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import import_module
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

logger = logging.getLogger(__name__)

SESSION_REVOKED = "session.revoked"


def user_socket_group(user_id: int) -> str:
    return f"user.{user_id}"


def sessions_revoke(*, user_id: int, session_key: str | None = None) -> None:
    """After the current transaction commits, tell the user's open sockets to re-check their
    session; the socket of `session_key` (a logout) closes without asking."""

    def send() -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return
        message: dict[str, Any] = {"type": SESSION_REVOKED, "session_key": session_key}
        try:
            async_to_sync(layer.group_send)(user_socket_group(user_id), message)
        except Exception:
            # The timer re-check still closes the sockets; a logout must not fail on Redis.
            logger.warning("could not notify the sockets of user %s", user_id, exc_info=True)

    transaction.on_commit(send)


def session_is_current(*, session_key: str | None, user_id: int) -> bool:
    """True while the session still exists, is signed in as `user_id` with the user's current
    password, and the user is active: what Django's own `get_user` checks on every request."""
    return bool(session_key) and session_key in sessions_current([(session_key, user_id)])


def sessions_current(pairs: Iterable[tuple[str | None, int]]) -> set[str]:
    """The session keys among `(session_key, user_id)` pairs that `session_is_current` holds
    for, read in a few queries however many pairs: one process re-checks all its open sockets
    at once (fleet.live.access) instead of four queries per socket."""
    wanted = {key: user_id for key, user_id in pairs if key}
    if not wanted:
        return set()
    sessions = _session_data(list(wanted))
    users = {
        user.pk: user
        for user in get_user_model()._default_manager.filter(pk__in=set(wanted.values()))
    }
    return {
        key
        for key, data in sessions.items()
        if _signed_in_as(data, users.get(wanted[key]), wanted[key])
    }


def _session_data(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Each live session's data by key; a deleted or expired session is left out."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if issubclass(store_class, DatabaseSessionStore):
        # The database is the truth for the db and cached_db engines: one query for all keys.
        rows = store_class.get_model_class().objects.filter(
            session_key__in=keys, expire_date__gt=timezone.now()
        )
        decoder = store_class()
        return {row.session_key: decoder.decode(row.session_data) for row in rows}
    loaded = {key: store_class(key).load() for key in keys}  # {} for a missing session
    return {key: data for key, data in loaded.items() if data}


def _signed_in_as(data: dict[str, Any], user: Any, user_id: int) -> bool:
    if str(data.get(SESSION_KEY)) != str(user_id) or BACKEND_SESSION_KEY not in data:
        return False
    if user is None or not user.is_active:
        return False
    stored = str(data.get(HASH_SESSION_KEY, ""))
    # Like `get_user`: a hash made with a SECRET_KEY_FALLBACKS key still counts.
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, candidate) for candidate in hashes)
