"""RowReader (tenancy/db/rows.py): the hot one-row reads give exactly what the ORM gives."""

from __future__ import annotations

from typing import Any

from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from deliveries.models import Order
from deliveries.selectors.orders import _ORDER_WITH_HUB, order_get
from tenancy.api.models import ApiToken
from tenancy.api.tokens import api_token_get, api_token_revoke
from tenancy.context import tenant_context
from tests.conftest import Tenant


def field_values(instance: models.Model) -> dict[str, Any]:
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def test_the_order_and_its_hub_are_those_of_the_orm(tenant_a: Tenant, tenant_b: Tenant) -> None:
    assert tenant_a.order is not None
    organization_id = tenant_a.organization.pk
    with tenant_context(organization_id):
        expected = Order.objects.select_related("hub").get(pk=tenant_a.order.pk)
        order = order_get(organization_id=organization_id, order_id=tenant_a.order.pk)
        assert field_values(order) == field_values(expected)
        assert field_values(order.hub) == field_values(expected.hub)
        assert order._state.adding is False and order._state.db == "default"
        assert order.window_start is None or order.window_start.tzinfo is not None
        # Another organization's order is not found, whatever its id.
        assert tenant_b.order is not None
        try:
            order_get(organization_id=organization_id, order_id=tenant_b.order.pk)
        except Order.DoesNotExist:
            pass
        else:
            raise AssertionError("a foreign order was read")


def test_the_token_and_its_organization_are_those_of_the_orm(tenant_a: Tenant) -> None:
    organization_id = tenant_a.organization.pk
    with tenant_context(organization_id):
        expected = ApiToken.objects.select_related("organization").filter(active=True).first()
        assert expected is not None
        token = api_token_get(organization_id=organization_id, token_id=expected.pk)
        assert token is not None
        assert field_values(token) == field_values(expected)
        assert isinstance(token.scopes, list)  # a JSON column, converted as the ORM does
        assert field_values(token.organization) == field_values(expected.organization)
        # A revoked token is not read on the very next request.
        api_token_revoke(organization_id=organization_id, token_id=expected.pk)
        assert api_token_get(organization_id=organization_id, token_id=expected.pk) is None


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_the_reads_are_prepared_once_per_connection(tenant_a: Tenant) -> None:
    assert tenant_a.order is not None
    organization_id = tenant_a.organization.pk
    with tenant_context(organization_id):
        for _ in range(3):
            order_get(organization_id=organization_id, order_id=tenant_a.order.pk)
        orders = [sql for sql in prepared_statements() if '"deliveries_order"' in sql]
        # One statement on the connection, parsed and planned once (not once per call).
        assert len(orders) == 1 and "$1" in orders[0], orders
        with CaptureQueriesContext(connection) as queries:
            order_get(organization_id=organization_id, order_id=tenant_a.order.pk)
        # Django's log shows what ran, values in place, as for every other query.
        assert str(tenant_a.order.pk) in queries.captured_queries[-1]["sql"]


def test_a_prepared_read_still_sees_only_the_connections_organization(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """Row-level security is applied to a prepared statement when it runs, not when it was
    planned: the same prepared read, on the same connection, in another organization's
    context, finds nothing of the first one even when asked for it by its organization."""
    assert tenant_a.order is not None
    a = tenant_a.organization.pk
    with tenant_context(a):
        for _ in range(6):  # past PostgreSQL's custom plans: the generic plan is in use
            assert _ORDER_WITH_HUB.get(a, tenant_a.order.pk) is not None
    with tenant_context(tenant_b.organization.pk):
        # The condition names organization a, the connection's settings say b: RLS refuses.
        assert _ORDER_WITH_HUB.get(a, tenant_a.order.pk) is None
