"""`field__any=[...]` (tenancy/db/lookups.py): the same rows as `__in`, one array parameter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from fleet.models import Vehicle
from tests.conftest import Tenant


@pytest.mark.django_db
def test_any_matches_what_in_matches_with_one_parameter(tenant_a: Tenant) -> None:
    with scopes_disabled():
        vehicles = Vehicle.objects.bulk_create(
            [Vehicle(organization=tenant_a.organization, hub=tenant_a.hub, plate=f"ANY-{i}")
             for i in range(300)]
        )  # fmt: skip
        ids = [v.pk for v in vehicles[::3]]
        with CaptureQueriesContext(connection) as queries:
            found = sorted(Vehicle.objects.filter(pk__any=ids).values_list("pk", flat=True))
        assert found == sorted(Vehicle.objects.filter(pk__in=ids).values_list("pk", flat=True))
        assert found == sorted(ids)
        [sql] = [q["sql"] for q in queries.captured_queries]
        assert "= ANY(" in sql
        # A foreign key, and the empty list (no rows, no error).
        hub_ids = [tenant_a.hub.pk]
        assert Vehicle.objects.filter(hub_id__any=hub_ids).count() >= len(vehicles)
        assert not Vehicle.objects.filter(pk__any=[]).exists()
