"""FilterSets of the fleet's lists (the REST API's; the live map filters in fleet/live/filters)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from tenancy.api.filters import (
    StrictBooleanFilter,
    StrictIntegerFilter,
    updated_since_filter,
    updated_since_filterset,
)

from .models import Device, Driver, Hub, Vehicle, VehicleState, Zone


class VehicleFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", max_length=80, help_text="Plate or name.")
    hub = StrictIntegerFilter(field_name="hub_id", help_text="A hub's id.")
    type = django_filters.ChoiceFilter(choices=Vehicle.Type.choices)
    tag = django_filters.CharFilter(method="has_tag", max_length=32, help_text="One tag, exactly.")
    active = StrictBooleanFilter(help_text="true or false.")
    updated_since = updated_since_filter("Vehicles whose data or device")

    class Meta:
        model = Vehicle
        fields = ["q", "hub", "type", "tag", "active"]

    def search(self, queryset: QuerySet[Vehicle], name: str, value: str) -> QuerySet[Vehicle]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(plate__icontains=value) | Q(name__icontains=value))

    def has_tag(self, queryset: QuerySet[Vehicle], name: str, value: str) -> QuerySet[Vehicle]:
        return queryset.filter(tags__contains=[value]) if value else queryset


class DriverFilterSet(django_filters.FilterSet):
    hub = StrictIntegerFilter(field_name="hub_id", help_text="A hub's id.")
    active = StrictBooleanFilter(help_text="true or false.")
    updated_since = updated_since_filter("Drivers whose data")

    class Meta:
        model = Driver
        fields = ["hub", "active"]


# The lists whose only filter is `updated_since`.
HubFilterSet = updated_since_filterset(Hub, "Hubs whose data")
ZoneFilterSet = updated_since_filterset(Zone, "Zones whose data or polygon")
DeviceFilterSet = updated_since_filterset(Device, "Devices whose data, vehicle or token")


class VehicleStateFilterSet(django_filters.FilterSet):
    # When Doorstep stored the fix, not the device's fix time: a fix that arrives late (a
    # tracker's backlog) is still news to a client that synced after its fix time.
    updated_since = updated_since_filter("Vehicles whose latest position", field_name="server_time")

    class Meta:
        model = VehicleState
        fields: list[str] = []
