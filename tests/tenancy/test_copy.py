"""Bulk loading by COPY (tenancy/copy.py): rows land with the model's defaults and ids from the
table's sequence, and row-level security still refuses a row of another organization."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django_scopes import scopes_disabled

from deliveries.models import DeliveryEvent, Order, OrderStatus
from tenancy.context import tenant_context
from tenancy.copy import copy_dicts, copy_objects, ids_reserve_for
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)


def _order(tenant: Tenant, reference: str) -> dict[str, object]:
    return {
        "organization_id": tenant.organization.pk,
        "hub_id": tenant.hub.pk,
        "reference": reference,
        "customer_name": "Copy Customer",
        "address": "1 Copy Street",
        "status": OrderStatus.DELIVERED,  # a TextChoices member: stored as its value
        "created_at": AT,
        "updated_at": AT,
    }


def test_rows_land_with_defaults_ids_and_json(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization.pk), scopes_disabled(), transaction.atomic():
        rows = [_order(tenant_a, f"COPY-{n}") for n in range(3)]
        assert copy_dicts(Order, rows) == 3
        events = [
            {"organization_id": tenant_a.organization.pk, "order_id": row["id"],
             "from_status": "", "to_status": "created", "at": AT, "source": "api"}
            for row in rows
        ]  # fmt: skip
        assert copy_dicts(DeliveryEvent, events) == 3
        orders = list(Order.objects.filter(reference__startswith="COPY-").order_by("reference"))
    assert [o.pk for o in orders] == [row["id"] for row in rows]  # ids from the sequence
    assert {o.status for o in orders} == {"delivered"}
    codes = {o.tracking_code for o in orders}
    assert len(codes) == 3 and all(len(code) >= 16 for code in codes)  # a default per row
    assert {o.priority for o in orders} == {Order.Priority.NORMAL} and orders[0].notes == ""
    assert orders[0].created_at == AT
    with tenant_context(tenant_a.organization.pk), scopes_disabled():
        assert DeliveryEvent.objects.filter(order__in=orders, to_status="created").count() == 3
        # The sequence moved past the copied ids: a later ORM insert does not collide.
        assert ids_reserve_for(Order, 1)[0] > max(o.pk for o in orders)


def test_model_instances_are_copied_too(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization.pk), scopes_disabled(), transaction.atomic():
        order = Order(**_order(tenant_a, "COPY-OBJ"))
        assert copy_objects([order]) == 1
        assert order.pk and not order._state.adding
        assert Order.objects.get(pk=order.pk).reference == "COPY-OBJ"


def test_row_level_security_refuses_a_row_of_another_organization(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    with tenant_context(tenant_a.organization.pk), connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone()[0] is False  # the policies apply: the staging path is taken
    rows = [_order(tenant_a, "COPY-OWN"), _order(tenant_b, "COPY-FOREIGN")]
    rows[1]["hub_id"] = tenant_b.hub.pk
    with (
        tenant_context(tenant_a.organization.pk),
        scopes_disabled(),
        pytest.raises(DatabaseError, match="row-level security"),
        transaction.atomic(),
    ):
        copy_dicts(Order, rows)
    with tenant_context(tenant_a.organization.pk), scopes_disabled():
        assert not Order.objects.filter(reference__startswith="COPY-").exists()  # none of them
