"""The KPI slice's FilterSet: defaults, the organization's own ids only, the hub scope, and
precise errors for bad periods."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict

from reporting.kpis.filters import KpiFilters
from reporting.kpis.filtersets import KpiFilterSet
from tenancy.context import tenant_context
from tests.conftest import Tenant
from tests.factories import HubFactory, VehicleFactory

TODAY = dt.date(2026, 6, 15)


def _filterset(tenant: Tenant, query: str, hub_ids: list[int] | None = None) -> KpiFilterSet:
    return KpiFilterSet(
        QueryDict(query),
        organization_id=tenant.organization.pk,
        today=TODAY,
        hub_ids=hub_ids,
    )


@pytest.mark.django_db
def test_no_parameters_is_the_last_30_days_up_to_today(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        filterset = _filterset(tenant_a, "")
        assert filterset.is_valid(), filterset.errors
        assert filterset.kpi_filters() == KpiFilters(
            start=dt.date(2026, 5, 17), end=dt.date(2026, 6, 15)
        )


@pytest.mark.django_db
def test_every_filter_becomes_part_of_the_slice(tenant_a: Tenant) -> None:
    a = tenant_a
    query = (
        f"start=2026-03-01&end=2026-03-31&hub={a.hub.pk}&zone={a.zone.pk}"
        f"&vehicle={a.vehicle.pk}&driver={a.driver.pk}"
    )
    with tenant_context(a.organization):
        filterset = _filterset(a, query)
        assert filterset.is_valid(), filterset.errors
        slice_ = filterset.kpi_filters()
    assert slice_ == KpiFilters(
        start=dt.date(2026, 3, 1),
        end=dt.date(2026, 3, 31),
        hub_ids=(a.hub.pk,),
        zone_ids=(a.zone.pk,),
        vehicle_ids=(a.vehicle.pk,),
        driver_ids=(a.driver.pk,),
    )
    assert slice_.previous().start == dt.date(2026, 1, 29)


@pytest.mark.django_db
def test_only_a_start_or_only_an_end(tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        only_start = _filterset(tenant_a, "start=2026-06-01")
        assert only_start.is_valid()
        assert (only_start.kpi_filters().start, only_start.kpi_filters().end) == (
            dt.date(2026, 6, 1),
            TODAY,
        )
        only_end = _filterset(tenant_a, "end=2026-02-10")
        assert only_end.is_valid()
        assert only_end.kpi_filters().start == dt.date(2026, 1, 12)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["hub", "zone", "vehicle", "driver"])
def test_another_organizations_ids_are_a_form_error(
    field: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    foreign = {
        "hub": tenant_b.hub,
        "zone": tenant_b.zone,
        "vehicle": tenant_b.vehicle,
        "driver": tenant_b.driver,
    }[field]
    with tenant_context(tenant_a.organization):
        filterset = _filterset(tenant_a, f"{field}={foreign.pk}")
        assert not filterset.is_valid()
        assert field in filterset.errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2026-03-10&end=2026-03-01", "end"),
        ("start=2024-01-01&end=2026-03-01", "start"),
        ("start=2026-02-30", "start"),
        ("start=1850-01-01&end=1850-01-02", "start"),
        ("vehicle=abc", "vehicle"),
        ("start=2026-07-01", None),  # a start after today: the period is that one day
    ],
)
def test_bad_periods_are_precise_errors(query: str, field: str | None, tenant_a: Tenant) -> None:
    with tenant_context(tenant_a.organization):
        filterset = _filterset(tenant_a, query)
        if field is None:
            assert filterset.is_valid()
            assert filterset.kpi_filters().days == 1
        else:
            assert not filterset.is_valid()
            assert field in filterset.errors


@pytest.mark.django_db
def test_a_hub_scoped_member_gets_only_their_hubs(tenant_a: Tenant) -> None:
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Alphahub Other")
    other_van = VehicleFactory.create(organization=tenant_a.organization, hub=other_hub)
    scope = [tenant_a.hub.pk]
    with tenant_context(tenant_a.organization):
        narrowed = _filterset(tenant_a, "", hub_ids=scope)
        assert narrowed.is_valid()
        assert narrowed.kpi_filters().hub_ids == (tenant_a.hub.pk,)
        assert not _filterset(tenant_a, f"hub={other_hub.pk}", hub_ids=scope).is_valid()
        assert not _filterset(tenant_a, f"vehicle={other_van.pk}", hub_ids=scope).is_valid()
        assert _filterset(tenant_a, f"hub={other_hub.pk}").is_valid()  # unscoped: any hub
