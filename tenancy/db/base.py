"""PostgreSQL backend that keeps each connection's tenant settings in step with the tenant
context (tenancy/context.py), so row-level security sees the same organization as the ORM.

Before a cursor is handed out, the connection's database role, `doorstep.organization_id` and
`doorstep.user_id` are compared with what the current context asks for, and set in one
statement when they differ. The settings are session-level: Django runs in autocommit, where a
transaction-local setting would be gone before the next statement. They are re-checked on every
cursor, forgotten when a connection is opened and when a transaction or savepoint rolls back
(a rollback undoes a SET made inside it), so a connection never acts for an organization that
the current code did not enter. A pooled connection given back idle (no transaction open: what
was set is committed) carries its settings with it to the next request that takes it, which
sets them again only if it wants others: one statement fewer per request for an integration
whose requests all act for the same organization.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from tenancy.context import NO_TENANT, TenantContext, current_context

OPERATOR = TenantContext(access="operator")
SYNC_SQL = (
    "SELECT set_config('role', %s, false), "
    "set_config('doorstep.organization_id', %s, false), "
    "set_config('doorstep.user_id', %s, false)"
)
# The settings a pooled connection was given back with, kept on the psycopg connection.
CARRIED = "_doorstep_tenant_settings"


def _wanted() -> tuple[str, str, str]:
    context = current_context()
    if context is None:
        # Outside every context: nothing (production). The test process sets "operator" so
        # fixtures can build two tenants' rows; servers and workers it starts do not.
        default = getattr(settings, "DOORSTEP_DB_DEFAULT_ACCESS", "none")
        context = OPERATOR if default == "operator" else NO_TENANT
    return context.database_settings()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tenant_settings: tuple[str, str, str] | None = None
        self._tenant_sync_paused = False

    @property
    def pool(self) -> Any:
        pool = super().pool
        # Django hands the pool psycopg's check (a round trip per connection handed out); the
        # settings may name a cheaper one (config/database.py, pooled_connection_check).
        check = self.settings_dict.get("DOORSTEP_POOL_CHECK")
        if pool is not None and check is not None and pool._check is not check:
            pool._check = check
        return pool

    def _healthy(self) -> bool:
        # In a failed transaction only a rollback runs; the caller's own statement reports it.
        return bool(self.connection.info.transaction_status != TransactionStatus.INERROR)

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        # A new connection has none; one from the pool those it was given back with (_close).
        self._tenant_settings = getattr(connection, CARRIED, None) if self.pool else None
        return connection

    def create_cursor(self, name: str | None = None) -> Any:
        if self.settings_dict.get("DOORSTEP_AS_OWNER"):
            # Migrations and `db_roles` run as the owner, who sets up the policies.
            return super().create_cursor(name)
        wanted = _wanted()
        if wanted != self._tenant_settings and not self._tenant_sync_paused and self._healthy():
            # Through a plain cursor: a named (server-side) cursor cannot run set_config.
            with self.connection.cursor() as cursor:
                cursor.execute(SYNC_SQL, wanted)
            self._tenant_settings = wanted
        return super().create_cursor(name)

    def _rollback(self) -> None:
        self._tenant_settings = None
        super()._rollback()  # type: ignore[misc]

    def _savepoint_rollback(self, sid: str) -> None:
        # The rollback statement needs a cursor, and must run before anything else can.
        self._tenant_sync_paused = True
        try:
            super()._savepoint_rollback(sid)  # type: ignore[misc]
        finally:
            self._tenant_sync_paused = False
            self._tenant_settings = None

    def _close(self) -> None:
        if self.pool and self.connection is not None:
            # Back to the pool: idle, what was set is in force; otherwise the pool rolls back
            # (which may undo a SET) and nothing is known.
            idle = self.connection.info.transaction_status == TransactionStatus.IDLE
            setattr(self.connection, CARRIED, self._tenant_settings if idle else None)
        self._tenant_settings = None
        super()._close()  # type: ignore[misc]
