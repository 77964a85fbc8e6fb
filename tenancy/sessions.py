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
from importlib import import_module
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.db import transaction
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
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    data = store.load()  # an empty dict for a deleted or expired session
    if str(data.get(SESSION_KEY)) != str(user_id) or BACKEND_SESSION_KEY not in data:
        return False
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return False
    stored = str(data.get(HASH_SESSION_KEY, ""))
    # Like `get_user`: a hash made with a SECRET_KEY_FALLBACKS key still counts.
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(stored, candidate) for candidate in hashes)
