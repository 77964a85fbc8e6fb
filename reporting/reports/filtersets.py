"""The one description of a report's slice in a query string, shared by the console's reports
page and the REST API: `start`, `end` (local days, yyyy-mm-dd, both included), `hub`, `zone`,
`vehicle`, `driver` (repeatable ids of the organization's own rows; a foreign id is a form error,
never a silent empty report)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet

from fleet.models import Driver, Hub, Vehicle, Zone

from ..kpis.filters import KpiFilters
from ..models import ReportRun

MAX_DAYS = 366
DEFAULT_DAYS = 7


class ReportFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The period ends before it starts.")
            elif (end - start).days + 1 > MAX_DAYS:
                self.add_error("end", f"A report covers at most {MAX_DAYS} days.")
        return data


class ReportFilterSet(django_filters.FilterSet):
    """Validates the slice (`is_valid()`, `errors`) and hands it over as `KpiFilters`; the
    queryset is unused (each report kind reads its own sources)."""

    start = django_filters.DateFilter(method="keep", label="From")
    end = django_filters.DateFilter(method="keep", label="To")
    hub = django_filters.ModelMultipleChoiceFilter(queryset=Hub.objects.none(), method="keep")
    zone = django_filters.ModelMultipleChoiceFilter(queryset=Zone.objects.none(), method="keep")
    vehicle = django_filters.ModelMultipleChoiceFilter(
        queryset=Vehicle.objects.none(), method="keep"
    )
    driver = django_filters.ModelMultipleChoiceFilter(queryset=Driver.objects.none(), method="keep")

    class Meta:
        model = ReportRun
        fields = ["start", "end", "hub", "zone", "vehicle", "driver"]
        form = ReportFilterForm

    def __init__(
        self,
        data: Any = None,
        *,
        organization_id: int,
        today: dt.date,
        hub_ids: list[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, queryset=ReportRun.objects.none(), **kwargs)
        self.today, self.scope_hub_ids = today, hub_ids or []
        hubs = Hub.objects.filter(organization_id=organization_id)
        zones = Zone.objects.filter(organization_id=organization_id)
        vehicles = Vehicle.objects.filter(organization_id=organization_id)
        drivers = Driver.objects.filter(organization_id=organization_id)
        if self.scope_hub_ids:  # a hub-scoped member chooses among their hubs' rows only
            hubs = hubs.filter(pk__in=self.scope_hub_ids)
            zones = zones.filter(hub_id__in=self.scope_hub_ids)
            vehicles = vehicles.filter(hub_id__in=self.scope_hub_ids)
            drivers = drivers.filter(hub_id__in=self.scope_hub_ids)
        for name, queryset in (
            ("hub", hubs.order_by("name")),
            ("zone", zones.order_by("name")),
            ("vehicle", vehicles.order_by("plate")),
            ("driver", drivers.order_by("name")),
        ):
            self.filters[name].queryset = queryset

    def keep(self, queryset: QuerySet[Any], name: str, value: object) -> QuerySet[Any]:
        return queryset

    def kpi_filters(self) -> KpiFilters:
        """The validated slice (call after `is_valid()`); defaults: the last seven local days
        up to yesterday, everything. A hub-scoped member's slice is always their hubs."""
        data = self.form.cleaned_data
        end = data.get("end") or (
            data["start"] if data.get("start") else self.today - dt.timedelta(days=1)
        )
        start = data.get("start") or min(end, end - dt.timedelta(days=DEFAULT_DAYS - 1))
        hub_ids = tuple(hub.pk for hub in data.get("hub") or ())
        if self.scope_hub_ids and not hub_ids:
            hub_ids = tuple(self.scope_hub_ids)
        return KpiFilters(
            start=start,
            end=end,
            hub_ids=hub_ids,
            zone_ids=tuple(zone.pk for zone in data.get("zone") or ()),
            vehicle_ids=tuple(vehicle.pk for vehicle in data.get("vehicle") or ()),
            driver_ids=tuple(driver.pk for driver in data.get("driver") or ()),
        )
