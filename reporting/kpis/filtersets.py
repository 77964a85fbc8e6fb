"""The one FilterSet of a KPI slice, shared by the dashboard and the KPI API: query parameters
in, a validated `KpiFilters` out.

    start, end            local days (yyyy-mm-dd) of the organization, both included;
                          default: the last 30 days up to today
    hub, zone, vehicle,   ids of the organization's own objects (repeat the parameter for
    driver                several); another organization's id is a form error, never data

A hub-scoped member only ever gets their hubs: their hub choices are those hubs, and a slice
that names none is narrowed to them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet

from fleet.models import Driver, Hub, Vehicle, Zone

from ..models import DailyVehicleRollup
from .filters import KpiFilters

DEFAULT_DAYS = 30
MAX_DAYS = 366
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


class KpiFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("start", "end"):
            day = data.get(name)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, f"Pick a day between {FIRST_DAY} and {LAST_DAY}.")
        return data


def _keep(queryset: QuerySet[Any], name: str, value: Any) -> QuerySet[Any]:
    """The KPIs read several tables (rollups, routes, alerts): the FilterSet's job is to parse
    and check the slice (`kpi_filters`), not to filter one queryset."""
    return queryset


class KpiFilterSet(django_filters.FilterSet):
    start = django_filters.DateFilter(method=_keep, label="From")
    end = django_filters.DateFilter(method=_keep, label="To")
    hub = django_filters.ModelMultipleChoiceFilter(
        queryset=Hub.objects.none(), method=_keep, label="Hub"
    )
    zone = django_filters.ModelMultipleChoiceFilter(
        queryset=Zone.objects.none(), method=_keep, label="Zone"
    )
    vehicle = django_filters.ModelMultipleChoiceFilter(
        queryset=Vehicle.objects.none(), method=_keep, label="Vehicle"
    )
    driver = django_filters.ModelMultipleChoiceFilter(
        queryset=Driver.objects.none(), method=_keep, label="Driver"
    )

    class Meta:
        model = DailyVehicleRollup
        fields: list[str] = []
        form = KpiFilterForm

    def __init__(
        self,
        data: Any = None,
        *,
        organization_id: int,
        today: dt.date,
        hub_ids: list[int] | None = None,
        **kwargs: Any,
    ) -> None:
        """`today` is the organization's local today; `hub_ids` the member's hub scope (empty
        or None: every hub)."""
        queryset = kwargs.pop("queryset", None)
        if queryset is None:
            queryset = DailyVehicleRollup.objects.filter(organization_id=organization_id)
        super().__init__(data, queryset=queryset, **kwargs)
        self.organization_id = organization_id
        self.today = today
        self.hub_scope = tuple(hub_ids or ())
        hubs = Hub.objects.filter(organization_id=organization_id).order_by("name")
        vehicles = Vehicle.objects.filter(organization_id=organization_id).order_by("plate")
        zones = Zone.objects.filter(organization_id=organization_id).order_by("name")
        drivers = Driver.objects.filter(organization_id=organization_id).order_by("name")
        if self.hub_scope:
            hubs = hubs.filter(pk__in=self.hub_scope)
            vehicles = vehicles.filter(hub_id__in=self.hub_scope)
            zones = zones.filter(hub_id__in=self.hub_scope)
            drivers = drivers.filter(hub_id__in=self.hub_scope)
        fields = self.form.fields
        fields["hub"].queryset = hubs  # type: ignore[attr-defined]
        fields["zone"].queryset = zones  # type: ignore[attr-defined]
        fields["vehicle"].queryset = vehicles  # type: ignore[attr-defined]
        fields["driver"].queryset = drivers  # type: ignore[attr-defined]

    def default_period(self) -> tuple[dt.date, dt.date]:
        return self.today - dt.timedelta(days=DEFAULT_DAYS - 1), self.today

    def period(self) -> tuple[dt.date, dt.date]:
        """The period asked for, with what is missing filled in: no end is today (or the
        start, if it lies ahead), no start is 30 days before the end."""
        data = self.form.cleaned_data
        start, end = data.get("start"), data.get("end")
        if end is None:
            end = max(self.today, start) if start else self.today
        if start is None:
            start = max(FIRST_DAY, min(end - dt.timedelta(days=DEFAULT_DAYS - 1), end))
        return start, end

    def is_valid(self) -> bool:
        if not super().is_valid():
            return False
        start, end = self.period()
        if end < start:
            self.form.add_error("end", "The period ends before it starts.")
        elif (end - start).days + 1 > MAX_DAYS:
            self.form.add_error("start", f"A period is at most {MAX_DAYS} days.")
        return not self.form.errors

    def kpi_filters(self) -> KpiFilters:
        """The validated slice; call after `is_valid()` returned True."""
        data = self.form.cleaned_data
        start, end = self.period()
        hub_ids = tuple(sorted(h.pk for h in data.get("hub") or ())) or self.hub_scope
        return KpiFilters(
            start=start,
            end=end,
            hub_ids=hub_ids,
            zone_ids=tuple(sorted(z.pk for z in data.get("zone") or ())),
            vehicle_ids=tuple(sorted(v.pk for v in data.get("vehicle") or ())),
            driver_ids=tuple(sorted(d.pk for d in data.get("driver") or ())),
        )
