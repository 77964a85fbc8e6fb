"""One FilterSet per list, shared by the console (the order lookup, the route list) and the
REST API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet
from django.http import HttpRequest

from fleet.models import Zone
from tenancy.api.filters import (
    AwareIsoDateTimeFilter,
    StrictBooleanFilter,
    StrictIntegerFilter,
    UtcIsoDateTimeFilter,
    updated_since_filterset,
)

from .models import (
    Order,
    OrderStatus,
    Route,
    Stop,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

BIGINT_MAX = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """A whole id: `1.5` or `abc` is a form error, not a decimal compared with an id."""

    field_class = forms.IntegerField


def zone_covers(geometry: F, longitude: object, latitude: object) -> Func:
    """Is (longitude, latitude) inside the zone's polygon, its boundary included? The SQL
    function of fleet's migration 0008 (PostgreSQL's `polygon @> point`); NULL coordinates
    are in no zone."""
    return Func(
        geometry, longitude, latitude, function="fleet_zone_covers", output_field=BooleanField()
    )


class OrderFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search",
        max_length=120,
        label="Search",
        help_text="Reference, tracking code, phone, customer name or address.",
    )
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    hub = StrictIntegerFilter(field_name="hub_id", help_text="A hub's id.")
    priority = django_filters.TypedChoiceFilter(choices=Order.Priority.choices, coerce=int)
    window_from = UtcIsoDateTimeFilter(field_name="window_end", lookup_expr="gte")
    window_to = UtcIsoDateTimeFilter(field_name="window_start", lookup_expr="lte")
    # Where the dashboards' numbers drill down to: the orders on routes of a vehicle, of a
    # driver, dated (local days, the route's date) inside a period. One stop must match them
    # all together (`filter_queryset`), so "van 7 on the 3rd" is not "van 7 ever, and anyone
    # on the 3rd".
    vehicle = IdFilter(
        method="filter_on_routes", label="Vehicle", min_value=1, max_value=BIGINT_MAX
    )
    driver = IdFilter(method="filter_on_routes", label="Driver", min_value=1, max_value=BIGINT_MAX)
    route_from = django_filters.DateFilter(method="filter_on_routes", label="Routes from")
    route_to = django_filters.DateFilter(method="filter_on_routes", label="Routes to")
    # A zone of the dashboards' slice: the orders whose address lies inside its polygon.
    zone = IdFilter(
        method="filter_zone",
        label="Zone",
        min_value=1,
        max_value=BIGINT_MAX,
        help_text="A zone's id: the orders whose coordinates lie inside the zone's polygon.",
    )

    needs_coordinates = StrictBooleanFilter(
        method="filter_needs_coordinates", help_text="true or false."
    )
    updated_since = AwareIsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text="Orders changed at or after this time (ISO 8601 with a time zone).",
    )

    class Meta:
        model = Order
        fields = ["q", "status", "hub", "priority", "window_from", "window_to"]

    ROUTE_FILTERS = {
        "vehicle": "route__vehicle_id",
        "driver": "route__driver_id",
        "route_from": "route__date__gte",
        "route_to": "route__date__lte",
    }

    def filter_on_routes(
        self, queryset: QuerySet[Order], name: str, value: object
    ) -> QuerySet[Order]:
        return queryset  # applied once, all together, by filter_queryset

    def filter_queryset(self, queryset: QuerySet[Order]) -> QuerySet[Order]:
        queryset = super().filter_queryset(queryset)
        wanted = {
            lookup: self.form.cleaned_data[name]
            for name, lookup in self.ROUTE_FILTERS.items()
            if self.form.cleaned_data.get(name) is not None
        }
        if not wanted:
            return queryset
        stops = Stop.objects.filter(
            organization_id=OuterRef("organization_id"), order_id=OuterRef("pk"), **wanted
        )
        return queryset.filter(Exists(stops))

    def filter_zone(
        self, queryset: QuerySet[Order], name: str, value: int | None
    ) -> QuerySet[Order]:
        if value is None:
            return queryset
        # The zone of the order's own organization only: a foreign zone id finds nothing.
        covering = Zone.objects.filter(
            pk=value, organization_id=OuterRef("organization_id")
        ).filter(zone_covers(F("geometry"), OuterRef("longitude"), OuterRef("latitude")))
        return queryset.filter(Exists(covering))

    def search(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        value = value.strip()
        if not value:
            return queryset
        # icontains compares UPPER(column): the trigram indexes of Order cover exactly that.
        return queryset.filter(
            Q(tracking_code=value)
            | Q(reference__icontains=value)
            | Q(phone__icontains=value)
            | Q(customer_name__icontains=value)
            | Q(address__icontains=value)
        )

    def filter_needs_coordinates(
        self, queryset: QuerySet[Order], name: str, value: bool | None
    ) -> QuerySet[Order]:
        if value is None:
            return queryset
        missing = Q(latitude__isnull=True) | Q(longitude__isnull=True)
        return queryset.filter(missing) if value else queryset.exclude(missing)


class RouteFilterSet(django_filters.FilterSet):
    """The route console's day (`date`) and the API's route list."""

    date = django_filters.DateFilter(help_text="Routes of this day (YYYY-MM-DD).")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")
    status = django_filters.MultipleChoiceFilter(choices=Route.Status.choices)
    hub = StrictIntegerFilter(field_name="hub_id", help_text="A hub's id.")
    vehicle = StrictIntegerFilter(field_name="vehicle_id", help_text="A vehicle's id.")
    driver = StrictIntegerFilter(field_name="driver_id", help_text="A driver's id.")
    updated_since = AwareIsoDateTimeFilter(
        method="filter_updated_since",
        help_text="Routes whose plan, status, stops, ETAs or an order on a stop changed at or "
        "after this time (ISO 8601 with a time zone).",
    )

    class Meta:
        model = Route
        fields = ["date", "date_from", "date_to", "status", "hub", "vehicle", "driver"]

    def filter_updated_since(
        self, queryset: QuerySet[Route], name: str, value: dt.datetime | None
    ) -> QuerySet[Route]:
        if value is None:
            return queryset
        # A route shows its stops' orders (status, address, window): an order's change is the
        # route's too. Read here rather than written on the route, so an order's writer never
        # locks a route after its order (every plan change locks the route first).
        changed_orders = Stop.objects.filter(
            organization_id=OuterRef("organization_id"),
            route_id=OuterRef("pk"),
            order__updated_at__gte=value,
        )
        return queryset.filter(Q(updated_at__gte=value) | Exists(changed_orders))


def _endpoints_of(request: HttpRequest | None) -> QuerySet[WebhookEndpoint]:
    # Only the organization's own endpoints are offered, and accepted, as a filter. The
    # console's member and the API's token both set the request's organization.
    organization = getattr(request, "organization", None)
    if organization is None:
        return WebhookEndpoint.objects.none()
    return WebhookEndpoint.objects.filter(organization_id=organization.pk)


WebhookEndpointFilterSet = updated_since_filterset(
    WebhookEndpoint, "Endpoints whose name, URL, events, active flag or secret"
)


class WebhookDeliveryFilterSet(django_filters.FilterSet):
    """The webhook delivery log's filters: the console's page and the API's list."""

    status = django_filters.ChoiceFilter(
        choices=WebhookDelivery.Status.choices, empty_label="Any status"
    )
    event = django_filters.ChoiceFilter(choices=WebhookEvent.choices, empty_label="Any event")
    endpoint = django_filters.ModelChoiceFilter(queryset=_endpoints_of, empty_label="Any endpoint")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "event", "endpoint"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            # A class, not a style attribute: the Content-Security-Policy allows none.
            field.widget.attrs.update({"class": "select w-auto"})
