"""The floor under the ORM guard: PostgreSQL row-level security, the roles, and the catalogue
check that covers every later tenant table by construction."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django_scopes import scopes_disabled

from fleet.resolvers import position_partition_create
from tenancy.context import no_tenant, operator_context, tenant_context
from tenancy.rls import tenant_tables
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def _tables() -> list[str]:
    with connection.cursor() as cursor:
        return tenant_tables(cursor)


def _count(table: str, where: str = "", params: list[Any] | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{table}" {where}', params or [])  # noqa: S608
        return int(cursor.fetchone()[0])


def test_every_table_with_an_organization_id_has_forced_row_level_security() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id'
                 AND NOT a.attisdropped
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
            """
        )
        rows = cursor.fetchall()
    assert len(rows) >= 20, rows  # every app's tenant tables, position partitions included
    assert any(name.startswith("fleet_position_p") for name, *_ in rows)
    uncovered = [name for name, enabled, forced, policies in rows if not (enabled and forced)]
    assert not uncovered, f"tables without forced row-level security: {uncovered}"
    assert all(policies >= 1 for *_, policies in rows)


def test_the_application_role_is_no_superuser_owns_nothing_and_cannot_bypass() -> None:
    with tenant_context(1), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        user, superuser, bypass = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user"
        )
        owned = cursor.fetchone()[0]
    assert user == settings.DB_APP_USER
    assert (superuser, bypass, owned) == (False, False, 0)


def test_guard_off_as_the_application_role_no_foreign_row_from_any_tenant_table(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    tables = _tables()
    a, b = tenant_a.organization.pk, tenant_b.organization.pk
    with operator_context():
        populated = [t for t in tables if _count(t, "WHERE organization_id = %s", [b]) > 0]
    assert len(populated) >= 10, populated  # B really has rows in most tables
    # The ORM guard is off (as if someone forgot it); the database still filters.
    with tenant_context(a), scopes_disabled():
        leaked = {t: n for t in tables if (n := _count(t, "WHERE organization_id <> %s", [a]))}
        own = sum(_count(t) for t in populated)
    assert leaked == {}
    assert own > 0  # A's own rows are there: the policy filters, it does not blank


def test_no_organization_set_means_zero_rows_everywhere(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with no_tenant(), scopes_disabled():
        counts = {t: n for t in _tables() if (n := _count(t))}
    assert counts == {}


def test_a_row_for_another_organization_cannot_be_written(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with (
        tenant_context(tenant_a.organization.pk),
        scopes_disabled(),
        pytest.raises(DatabaseError, match="row-level security"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE fleet_hub SET organization_id = %s WHERE id = %s",
            [tenant_b.organization.pk, tenant_a.hub.pk],
        )


def test_a_new_partition_gets_the_same_policy(tenant_a: Tenant) -> None:
    day = dt.date(2031, 5, 17)
    with tenant_context(tenant_a.organization.pk):
        assert position_partition_create(day=day) is True
        assert position_partition_create(day=day) is False  # already there
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s",
            ["fleet_position_p20310517"],
        )
        assert cursor.fetchone() == (True, True)


@pytest.mark.django_db(transaction=True)
def test_the_ingest_role_reads_only_what_ingest_needs(tenant_a: Tenant) -> None:
    db: dict[str, Any] = settings.DATABASES["default"]
    conninfo = psycopg.conninfo.make_conninfo(
        dbname=db["NAME"],
        user=settings.DB_INGEST["USER"],
        host=db["HOST"] or None,
        port=db["PORT"] or None,
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # Bypasses the policies (one flush holds many organizations' fixes)...
        devices = conn.execute("SELECT count(*) FROM fleet_device").fetchone()
        assert devices is not None and devices[0] >= 1
        # ...but is granted nothing beyond the ingest tables.
        for table in ("deliveries_order", "auth_user", "tenancy_membership"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")  # noqa: S608
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM fleet_device")


def test_the_hub_day_bins_are_tenant_rows_a_refresh_never_reaches_across(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The rollup pass's hub-day tables have the same forced policy as every tenant table: with
    the ORM guard off, A reads only its own bins, and A's refresh of a day (which deletes and
    rewrites that day's bins) leaves B's bins of the same day alone."""
    from reporting.models import DailyEtaErrorHistogram, DailyFailureReasonCount
    from reporting.route_rollups import hub_day_histograms_refresh

    day = dt.date(2026, 3, 2)
    tables = ("reporting_dailyetaerrorhistogram", "reporting_dailyfailurereasoncount")
    assert set(tables) <= set(_tables())
    for tenant in (tenant_a, tenant_b):
        org = tenant.organization
        with tenant_context(org):
            DailyEtaErrorHistogram.objects.create(
                organization=org, day=day, hub_id=tenant.hub.pk, horizon_minutes=60,
                error_minus_2=4,
            )  # fmt: skip
            DailyFailureReasonCount.objects.create(
                organization=org, day=day, hub_id=tenant.hub.pk, reason_code="refused", failures=1
            )
    a, b = tenant_a.organization.pk, tenant_b.organization.pk
    with tenant_context(a), scopes_disabled():
        assert [_count(t) for t in tables] == [1, 1]
        assert [_count(t, "WHERE organization_id = %s", [b]) for t in tables] == [0, 0]
        hub_day_histograms_refresh(organization_id=a, day=day)  # A has no route rows that day
        assert [_count(t) for t in tables] == [0, 0]
    with operator_context():
        assert [_count(t, "WHERE organization_id = %s", [b]) for t in tables] == [1, 1]
