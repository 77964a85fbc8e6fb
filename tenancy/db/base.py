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
from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOperations
from django.db.backends.postgresql.psycopg_any import register_tzloader
from psycopg.postgres import types as pg_types
from psycopg.pq import Format, TransactionStatus

from tenancy.context import NO_TENANT, TenantContext, current_context

OPERATOR = TenantContext(access="operator")
SYNC_SQL = (
    "SELECT set_config('role', %s, false), "
    "set_config('doorstep.organization_id', %s, false), "
    "set_config('doorstep.user_id', %s, false)"
)
# The settings a pooled connection was given back with, kept on the psycopg connection.
CARRIED = "_doorstep_tenant_settings"
# The cursor "name" that asks create_cursor for a PreparedCursor (DatabaseWrapper.prepared_cursor).
PREPARED = "doorstep:prepared"
TIMESTAMPTZ_OID = pg_types["timestamptz"].oid


class PreparedCursor(base.ServerBindingCursor):  # type: ignore[name-defined,misc]
    """Binds its parameters on the server and prepares every statement it runs on its
    connection: PostgreSQL parses and plans a statement once per connection, not once per call,
    and the client sends the values apart instead of quoting them into the SQL. Django's
    cursors bind on the client and prepare nothing (connection poolers in front of PostgreSQL
    would lose the prepared statements; Doorstep's pool is in the process, with the
    connection). For the few statements every request runs (tenancy/db/rows.py)."""

    def execute(
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)  # type: ignore[misc]


class DatabaseOperations(PostgresOperations):
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        if isinstance(cursor, PreparedCursor):
            # Sent as a prepared statement and its values: the log shows it composed, as the
            # client-side cursors' statements are.
            return str(self.compose_sql(sql, params))
        return super().last_executed_query(cursor, sql, params)  # type: ignore[no-any-return]


def _wanted() -> tuple[str, str, str]:
    context = current_context()
    if context is None:
        # Outside every context: nothing (production). The test process sets "operator" so
        # fixtures can build two tenants' rows; servers and workers it starts do not.
        default = getattr(settings, "DOORSTEP_DB_DEFAULT_ACCESS", "none")
        context = OPERATOR if default == "operator" else NO_TENANT
    return context.database_settings()


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

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

    def prepared_cursor(self) -> Any:
        """A cursor like `cursor()` (the tenant's settings, Django's wrapper: logged and
        counted as every query) whose statements are prepared on the connection."""
        return self._cursor(PREPARED)  # type: ignore[attr-defined]

    def create_cursor(self, name: str | None = None) -> Any:
        prepared = name == PREPARED
        if self.settings_dict.get("DOORSTEP_AS_OWNER"):
            # Migrations and `db_roles` run as the owner, who sets up the policies.
            return super().create_cursor(None if prepared else name)
        wanted = _wanted()
        if wanted != self._tenant_settings and not self._tenant_sync_paused and self._healthy():
            # Through a plain cursor: a named (server-side) cursor cannot run set_config.
            with self.connection.cursor() as cursor:
                cursor.execute(SYNC_SQL, wanted)
            self._tenant_settings = wanted
        if prepared:
            return self._create_prepared_cursor()
        return super().create_cursor(name)

    def _create_prepared_cursor(self) -> PreparedCursor:
        cursor = PreparedCursor(self.connection)  # type: ignore[call-arg]
        # As Django's create_cursor: the cursor's time zone when the connection's differs.
        loader = self.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        if self.timezone != loader.timezone:
            register_tzloader(self.timezone, cursor)
        return cursor

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
