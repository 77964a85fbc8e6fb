"""PostgreSQL row-level security, by construction: every table with an `organization_id` column
gets RLS enabled and forced and one policy keyed on the connection's `doorstep.organization_id`
(no setting: no rows). It runs after every `migrate` (post_migrate, as the owner), so a new
tenant table is covered the moment it exists; tests/tenancy/test_rls.py checks the catalogue.

Roles (docs/tenancy.md):
- the owner (DATABASE_URL's user) owns the schema and runs this;
- `doorstep_app`: the application's login; owns nothing, not a superuser, no BYPASSRLS; DML on
  every table; may switch to `doorstep_operator` (NOINHERIT: only by an explicit SET ROLE, which
  only tenancy.context.operator_context() asks for);
- `doorstep_operator`: no login, BYPASSRLS, DML on every table: the superuser's admin and the
  maintenance jobs that work across tenants;
- `doorstep_ingest`: the ingest writer's login; BYPASSRLS (one flush commits many
  organizations' fixes) but granted only the tables ingest reads and writes.

Cross-tenant lookups that public endpoints need (tracking code -> order, token -> organization)
are SECURITY DEFINER functions registered by their apps (`register_resolver_sql`), each answering
one narrow question; see tenancy/resolvers.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import InternalError, connections, transaction

logger = logging.getLogger(__name__)

SETTING = "doorstep.organization_id"
USER_SETTING = "doorstep.user_id"
POLICY = "tenant_isolation"
ORG_EXPR = f"NULLIF(current_setting('{SETTING}', true), '')::bigint"
USER_EXPR = f"NULLIF(current_setting('{USER_SETTING}', true), '')::bigint"
# A member may read their own memberships before an organization is chosen (login, switcher).
EXTRA_READ = {"tenancy_membership": f"user_id = {USER_EXPR}"}

# Tables (and their sequences) the ingest writer needs; nothing else is granted to it.
INGEST_READ = [
    "tenancy_organization",
    "fleet_device",
    "fleet_vehicle",
    "fleet_hub",
    "fleet_driver",
    "fleet_trackingsettings",
]
INGEST_WRITE = ["fleet_position", "fleet_vehiclestate", "fleet_rejectedfix"]
# Written, never read back: the outbox events a flush emits (the identity id needs no grant).
INGEST_EMIT = ["tenancy_outboxevent"]

_resolver_sql: list[str] = []


def register_resolver_sql(sql: str) -> None:
    """An app's SECURITY DEFINER functions (CREATE OR REPLACE ...), created after migrate."""
    if sql not in _resolver_sql:
        _resolver_sql.append(sql)


def roles() -> dict[str, str]:
    return {
        "app": settings.DB_APP_USER,
        "ingest": settings.DB_INGEST_USER,
        "operator": settings.DB_OPERATOR_ROLE,
    }


def tenant_tables(cursor: Any) -> list[str]:
    """Every ordinary or partitioned table in the public schema with an organization_id."""
    cursor.execute(
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id'
             AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
        """
    )
    return [row[0] for row in cursor.fetchall()]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_policy_sql(table: str) -> list[str]:
    """Enable, force and (re)create the tenant policy of one table."""
    qualified = _quote(table)
    using = f"organization_id = {ORG_EXPR}"
    read = f"({using}) OR ({EXTRA_READ[table]})" if table in EXTRA_READ else using
    return [
        f"ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {qualified}",
        f"CREATE POLICY {POLICY} ON {qualified} USING ({read}) WITH CHECK ({using})",
    ]


def _role_exists(cursor: Any, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    return cursor.fetchone() is not None


def _can_create_roles(cursor: Any) -> bool:
    cursor.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
    row = cursor.fetchone()
    return bool(row and row[0])


def roles_ensure(cursor: Any) -> None:
    """Create the three roles if missing (needs CREATEROLE; a DBA may create them instead)."""
    names = roles()
    if not _can_create_roles(cursor):
        missing = [n for n in names.values() if not _role_exists(cursor, n)]
        if missing:
            logger.warning("database roles %s are missing and cannot be created here", missing)
        return
    statements = {
        names["operator"]: f"CREATE ROLE {_quote(names['operator'])} NOLOGIN BYPASSRLS",
        names["app"]: f"CREATE ROLE {_quote(names['app'])} LOGIN NOINHERIT",
        names["ingest"]: f"CREATE ROLE {_quote(names['ingest'])} LOGIN BYPASSRLS",
    }
    for name, sql in statements.items():
        if not _role_exists(cursor, name):
            cursor.execute(sql)
    # Re-assert the attributes that matter, whoever created the roles. Roles are shared by the
    # cluster's databases (parallel test workers migrate at once): change only what differs,
    # since concurrent ALTERs of one role fail with "tuple concurrently updated".
    cursor.execute(
        "SELECT rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole FROM pg_roles "
        "WHERE rolname = %s",
        [names["app"]],
    )
    if cursor.fetchone()[0]:
        cursor.execute(
            f"ALTER ROLE {_quote(names['app'])} NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
        )
    for key, env_name in (
        ("app", "DOORSTEP_DB_APP_PASSWORD"),
        ("ingest", "DOORSTEP_DB_INGEST_PASSWORD"),
    ):
        password = _env(env_name)
        if password:
            cursor.execute(f"ALTER ROLE {_quote(names[key])} PASSWORD %s", [password])
    if not _role_member(cursor, member=names["app"], role=names["operator"]):
        cursor.execute(f"GRANT {_quote(names['operator'])} TO {_quote(names['app'])}")


def _role_member(cursor: Any, *, member: str, role: str) -> bool:
    cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [member, role])
    return bool(cursor.fetchone()[0])


def _env(name: str) -> str:
    import os

    return os.environ.get(name, "")


def grants_sql(database: str) -> list[str]:
    names = {k: _quote(v) for k, v in roles().items()}
    app, operator, ingest = names["app"], names["operator"], names["ingest"]
    dml = "SELECT, INSERT, UPDATE, DELETE"
    statements = [
        f"GRANT CONNECT, TEMPORARY ON DATABASE {_quote(database)} TO {app}, {ingest}",
        f"GRANT USAGE ON SCHEMA public TO {app}, {operator}, {ingest}",
        f"GRANT {dml} ON ALL TABLES IN SCHEMA public TO {app}",
        # The operator may also empty tables (maintenance; the test suite's flush).
        f"GRANT {dml}, TRUNCATE ON ALL TABLES IN SCHEMA public TO {operator}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}, {operator}",
        # Tables the owner creates later (e.g. the daily position partitions) get the same.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {dml} ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {dml}, TRUNCATE ON TABLES TO {operator}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES "
        f"TO {app}, {operator}",
        f"GRANT SELECT ON {', '.join(INGEST_READ)} TO {ingest}",
        f"GRANT SELECT, INSERT, UPDATE ON {', '.join(INGEST_WRITE)} TO {ingest}",
        f"GRANT USAGE, SELECT ON SEQUENCE fleet_rejectedfix_id_seq TO {ingest}",
        # The positions.flushed events of each flush (fleet/ingest/events.py): insert only.
        f"GRANT INSERT ON {', '.join(INGEST_EMIT)} TO {ingest}",
    ]
    return statements


def setup(using: str = "default", *, extra_sql: Iterable[str] = ()) -> list[str]:
    """Roles, grants, policies and resolver functions; idempotent. Returns the tenant tables.
    Retried when another database of the cluster sets up the same roles at the same moment."""
    for attempt in range(5):
        try:
            with transaction.atomic(using=using):
                return _setup(using, extra_sql=extra_sql)
        except InternalError as exc:  # "tuple concurrently updated" on a shared catalog row
            if "concurrently" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _setup(using: str, *, extra_sql: Iterable[str]) -> list[str]:
    connection = connections[using]
    with connection.cursor() as cursor:
        roles_ensure(cursor)
        tables = tenant_tables(cursor)
        for table in tables:
            for sql in table_policy_sql(table):
                cursor.execute(sql)
        for sql in [*_resolver_sql, *extra_sql]:
            cursor.execute(sql)
        for sql in grants_sql(connection.settings_dict["NAME"]):
            cursor.execute(sql)
        app, operator = _quote(roles()["app"]), _quote(roles()["operator"])
        cursor.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.proname LIKE 'doorstep\\_%%'"
        )
        for (function,) in cursor.fetchall():
            cursor.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
            cursor.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {app}, {operator}")
    return tables
