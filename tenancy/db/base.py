"""PostgreSQL backend that keeps each connection's tenant settings in step with the tenant
context (tenancy/context.py), so row-level security sees the same organization as the ORM.

Before a cursor is handed out, the connection's database role, `doorstep.organization_id` and
`doorstep.user_id` are compared with what the current context asks for, and set in one
statement when they differ. The settings are session-level: Django runs in autocommit, where a
transaction-local setting would be gone before the next statement. They are re-checked on every
cursor, forgotten when a (pooled) connection is opened and when a transaction or savepoint
rolls back (a rollback undoes a SET made inside it), so a connection never acts for an
organization that the current code did not enter.
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

    def _healthy(self) -> bool:
        # In a failed transaction only a rollback runs; the caller's own statement reports it.
        return bool(self.connection.info.transaction_status != TransactionStatus.INERROR)

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self._tenant_settings = None  # a new or pooled connection: its settings are unknown
        return super().get_new_connection(conn_params)

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
        self._tenant_settings = None
        super()._close()  # type: ignore[misc]
