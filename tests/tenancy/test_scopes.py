"""The tenancy guard: tenant models refuse unscoped queries and filter scoped ones."""

from __future__ import annotations

import pytest
from django.apps import apps
from django_scopes import ScopeError, scope

from tenancy.models import TenantModel
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db

TENANT_MODELS = [m for m in apps.get_models() if issubclass(m, TenantModel)]


def test_there_are_tenant_models_to_guard() -> None:
    names = {m.__name__ for m in TENANT_MODELS}
    assert {"Membership", "Hub", "Zone", "Vehicle", "Driver", "Device"} <= names


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m.__name__)
def test_unscoped_query_raises(model: type[TenantModel]) -> None:
    with pytest.raises(ScopeError):
        list(model.objects.all())
    with pytest.raises(ScopeError):
        model.objects.filter(pk=1).exists()


def test_scoped_query_returns_only_that_organization(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from fleet.models import Vehicle

    with scope(organization=tenant_a.organization):
        plates = set(Vehicle.objects.values_list("plate", flat=True))
        assert plates == {tenant_a.vehicle.plate}
        # Even an explicit id of B's finds nothing inside A's scope.
        assert not Vehicle.objects.filter(pk=tenant_b.vehicle.pk).exists()
