"""Named cross-tenant lookups. A public endpoint that learns its organization from what it was
given (a tracking code, an API token, a device identifier) asks one of these narrow SECURITY
DEFINER functions, gets ids back, and then enters that organization's context to read the rest.
Nothing else reads across tenants: there is no `scopes_disabled()` in the domain apps.

Each app registers the SQL of its resolvers (tenancy.rls.register_resolver_sql) and wraps each
in a typed Python function next to its selectors, e.g. deliveries/resolvers.py.
"""

from __future__ import annotations

from typing import Any

from django.db import connection


def resolver_call(function: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of `SELECT * FROM function(args...)`; `function` is a constant of the caller's."""
    placeholders = ", ".join(["%s"] * len(args))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {function}({placeholders})", list(args))  # noqa: S608
        return list(cursor.fetchall())


def resolver_definition(name: str, signature: str, returns: str, body: str) -> str:
    """CREATE OR REPLACE of a STABLE SQL function that runs as its owner, with a fixed search
    path (so a caller's schema cannot shadow the tables it reads)."""
    return (
        f"CREATE OR REPLACE FUNCTION {name}({signature}) RETURNS {returns} "
        f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp "
        f"AS $doorstep$ {body} $doorstep$"
    )
