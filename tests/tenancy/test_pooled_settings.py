"""A pooled connection carries its tenant settings back out of the pool (tenancy/db/base.py),
but only settings known to be in force: a connection given back inside a transaction (which
the pool rolls back) comes out with none known, and is set again before its first statement."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from django.db import connections

from tenancy.context import tenant_context
from tenancy.db.base import DatabaseWrapper


@pytest.fixture
def pooled(db: None) -> Iterator[DatabaseWrapper]:
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict["CONN_MAX_AGE"] = 0
    settings_dict["CONN_HEALTH_CHECKS"] = False
    settings_dict["DOORSTEP_AS_OWNER"] = False  # the settings are kept in step (not the owner)
    options = dict(settings_dict["OPTIONS"])
    options["pool"] = {"min_size": 1, "max_size": 1, "name": "test-carried"}
    settings_dict["OPTIONS"] = options
    # The default alias (connection signals look it up); its own connection is never pooled.
    wrapper = DatabaseWrapper(settings_dict, alias="default")
    yield wrapper
    wrapper.close()
    wrapper.close_pool()


def use(wrapper: DatabaseWrapper) -> None:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 1")


def in_force(wrapper: DatabaseWrapper) -> str:
    """The organization the server holds for this connection (read past the wrapper)."""
    row = wrapper.connection.execute(
        "SELECT current_setting('doorstep.organization_id', true)"
    ).fetchone()
    return str(row[0] or "")


def test_an_idle_connection_comes_back_with_its_settings(pooled: DatabaseWrapper) -> None:
    with tenant_context(41):
        use(pooled)
    raw = pooled.connection
    pooled.close()  # back to the pool, idle
    pooled.connect()
    assert pooled.connection is raw  # a pool of one: the same connection
    assert pooled._tenant_settings is not None and pooled._tenant_settings[1] == "41"
    assert in_force(pooled) == "41"
    with tenant_context(42):  # another organization: set again
        use(pooled)
        assert in_force(pooled) == "42"


def test_a_connection_given_back_in_a_transaction_comes_back_unknown(
    pooled: DatabaseWrapper,
) -> None:
    with tenant_context(41):
        use(pooled)
    pooled.connection.execute("BEGIN")
    with tenant_context(42):
        use(pooled)  # set inside the transaction: the pool's rollback undoes it
    pooled.close()
    pooled.connect()
    assert pooled._tenant_settings is None
    assert in_force(pooled) == "41"
    with tenant_context(42):
        use(pooled)
        assert in_force(pooled) == "42"


def test_the_pool_checks_connections_as_the_settings_say(pooled: DatabaseWrapper) -> None:
    def check(conn: object) -> None:
        pass

    pooled.settings_dict["DOORSTEP_POOL_CHECK"] = check
    assert pooled.pool._check is check  # in place of psycopg's round trip (config/database.py)
