"""Console sockets follow their session and membership (the live map and the alerts inbox).

Events end access at once (tenancy.sessions: logout, password, membership changed). What no
event announces (a session row deleted or expired in the store, a user deactivated by a
queryset update) is caught by a periodic re-check. That re-check runs once per process for
every open socket together, in a handful of queries (`access_verdicts`): 200 screens each
checking their own session every 30 s cost a quarter of a core and showed in the live map's
fan-out latency."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from tenancy.context import no_tenant, tenant_context
from tenancy.models import Membership
from tenancy.permissions import CONSOLE_ROLES
from tenancy.selectors import membership_for_user, membership_hub_ids, memberships_in_organization
from tenancy.sessions import sessions_current, user_socket_group

logger = logging.getLogger(__name__)

# Close codes the screen understands (docs/live-map.md): 4401 signed out or session ended
# (the screen stops retrying and says so), 4403 no access; 4409 the hub scope changed, so the
# screen reconnects at once and gets a snapshot of its new scope.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_RESCOPED = 4409

# Read-only lookups run in the thread pool, not the one shared "sync thread".
read_only = partial(database_sync_to_async, thread_sensitive=False)


@read_only
def membership_on_connect(
    user: Any, organization_id: int | None
) -> tuple[Membership | None, list[int]]:
    """The membership a console socket opens with (the session's organization, else the
    user's first) and its hub scope."""
    # Resolved once per connection; every later read enters this organization's context.
    with no_tenant(user_id=user.pk):
        membership = membership_for_user(user=user, organization_id=organization_id)
        if membership is None:
            return None, []
        return membership, membership_hub_ids(membership=membership)


@dataclass(frozen=True)
class SocketIdentity:
    session_key: str | None
    user_id: int
    organization_id: int


Verdict = tuple[int | None, list[int]]  # (close code or None to stay open, hub scope)


def access_verdicts(identities: Sequence[SocketIdentity]) -> list[Verdict]:
    """For each socket: the close code its session and membership call for now (None: stay
    open) and the membership's current hub scope."""
    with no_tenant():
        current = sessions_current((each.session_key, each.user_id) for each in identities)
    users_by_organization: dict[int, set[int]] = defaultdict(set)
    for each in identities:
        if each.session_key in current:
            users_by_organization[each.organization_id].add(each.user_id)
    memberships = {}
    for organization_id, user_ids in users_by_organization.items():
        # This socket's organization only: another membership is no licence here.
        with tenant_context(organization_id):
            found = memberships_in_organization(organization_id=organization_id, user_ids=user_ids)
        memberships.update({(organization_id, user_id): row for user_id, row in found.items()})
    verdicts: list[Verdict] = []
    for each in identities:
        if each.session_key not in current:
            verdicts.append((CLOSE_UNAUTHENTICATED, []))
            continue
        membership, hub_ids = memberships.get((each.organization_id, each.user_id), (None, []))
        if membership is None or membership.role not in CONSOLE_ROLES:
            verdicts.append((CLOSE_FORBIDDEN, []))
        else:
            verdicts.append((None, hub_ids))
    return verdicts


class SocketAccessGuard:
    """A console socket's access checks, shared by the live map and the alerts inbox: a
    session revoked (tenancy.sessions' event) or a membership ended or rescoped closes it;
    the process's `AccessRechecker` covers what no event announces.

    The consumer provides `session_key`, `user`, `organization_id`, `revoked`, `revoke(code)`
    and `access_hub_scope()` (the hub ids it was opened with), and calls `rechecks_start()`
    once accepted and `rechecks_stop()` on disconnect."""

    socket_name = "console"
    session_key: str | None
    user: Any
    organization_id: int
    revoked: bool
    channel_layer: Any
    channel_name: str

    def access_hub_scope(self) -> frozenset[int]:
        raise NotImplementedError

    async def revoke(self, code: int) -> None:
        raise NotImplementedError

    def access_identity(self) -> SocketIdentity:
        return SocketIdentity(self.session_key, self.user.pk, self.organization_id)

    async def check_access(self) -> bool:
        """Re-check session and membership now; close and answer False when access ended."""
        [verdict] = await read_only(access_verdicts)([self.access_identity()])
        return await self.apply_verdict(verdict)

    async def apply_verdict(self, verdict: Verdict) -> bool:
        code, hub_ids = verdict
        if code is None and frozenset(hub_ids) != self.access_hub_scope():
            code = CLOSE_RESCOPED
        if code is not None:
            await self.revoke(code)
            return False
        return True

    async def session_revoked(self, event: dict[str, Any]) -> None:
        """tenancy.sessions: this user's access may have ended (logout, password, membership)."""
        if event.get("session_key") and event["session_key"] == self.session_key:
            await self.revoke(CLOSE_UNAUTHENTICATED)
            return
        await self.check_access()

    def rechecks_start(self) -> None:
        access_rechecker().add(self)

    def rechecks_stop(self) -> None:
        access_rechecker().discard(self)


class AccessRechecker:
    """Every LIVE_SESSION_RECHECK_SECONDS, one `access_verdicts` call for all of this event
    loop's open console sockets; each socket then closes or stays open on its verdict, and
    renews its user group (group membership expires in the channel layer after a day)."""

    def __init__(self) -> None:
        self.guards: weakref.WeakSet[SocketAccessGuard] = weakref.WeakSet()
        self.task: asyncio.Task[None] | None = None

    def add(self, guard: SocketAccessGuard) -> None:
        self.guards.add(guard)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, guard: SocketAccessGuard) -> None:
        self.guards.discard(guard)

    async def _run(self) -> None:
        while self.guards:
            await asyncio.sleep(settings.LIVE_SESSION_RECHECK_SECONDS)
            try:
                await self.recheck()
            except Exception:
                logger.warning("console socket access re-check failed", exc_info=True)

    async def recheck(self) -> None:
        guards = [guard for guard in list(self.guards) if not guard.revoked]
        if not guards:
            return
        verdicts = await read_only(access_verdicts)([g.access_identity() for g in guards])
        for guard, verdict in zip(guards, verdicts, strict=True):
            try:
                if await guard.apply_verdict(verdict):
                    await guard.channel_layer.group_add(
                        user_socket_group(guard.user.pk), guard.channel_name
                    )
            except Exception:
                logger.warning("%s socket access re-check failed", guard.socket_name, exc_info=True)


# One re-checker per event loop (Daphne runs one; tests open a loop per test).
_rechecker_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AccessRechecker] = (
    weakref.WeakKeyDictionary()
)


def access_rechecker() -> AccessRechecker:
    loop = asyncio.get_running_loop()
    rechecker = _rechecker_by_loop.get(loop)
    if rechecker is None:
        rechecker = _rechecker_by_loop[loop] = AccessRechecker()
    return rechecker
