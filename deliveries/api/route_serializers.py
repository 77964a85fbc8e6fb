"""Input and output shapes of the routes API. No logic here: the route services validate and
write (deliveries/services/routes.py)."""

from __future__ import annotations

from rest_framework import serializers

from tenancy.api.serializers import StrictInputSerializer, WholePatchInputSerializer

from ..models import Route, Stop
from .serializers import BIG_ID

# Route.plan_version is a PostgreSQL integer.
PLAN_VERSION_MAX = 2**31 - 1


def plan_version_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0,
        max_value=PLAN_VERSION_MAX,
        help_text="The route's `plan_version` your change is based on: 409 when the plan has "
        "changed since (the problem's `plan_version` is the current one).",
    )


def crew_field(what: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        max_value=BIG_ID,
        required=False,
        allow_null=True,
        help_text=f"A {what}'s id, or null for none yet.",
    )


class RouteCreateInputSerializer(StrictInputSerializer):
    """A planned route of one hub for one day; the vehicle and the driver may come later (a
    route is dispatched only with both). A vehicle or driver has one route a day."""

    hub = serializers.IntegerField(min_value=1, max_value=BIG_ID, help_text="The hub's id.")
    date = serializers.DateField(help_text="The route's day (YYYY-MM-DD).")
    vehicle = crew_field("vehicle")
    driver = crew_field("driver")


class RouteUpdateInputSerializer(WholePatchInputSerializer):
    """Who drives a planned route, and in what; members not given keep their values."""

    vehicle = crew_field("vehicle")
    driver = crew_field("driver")
    plan_version = plan_version_field()


class StopAddInputSerializer(StrictInputSerializer):
    order = serializers.IntegerField(
        min_value=1,
        max_value=BIG_ID,
        help_text="The order's id: of the route's hub, located, and on no other open route.",
    )
    plan_version = plan_version_field()


class StopMoveInputSerializer(StrictInputSerializer):
    sequence = serializers.IntegerField(
        min_value=1,
        max_value=PLAN_VERSION_MAX,
        help_text="The stop's new place (1 is first, at most the number of stops); the stops "
        "in between shift by one. Visited stops keep their places.",
    )
    plan_version = plan_version_field()


# The most stops a whole new order names (a van's day is a few hundred at most).
REORDER_MAX_STOPS = 1000


class StopsReorderInputSerializer(StrictInputSerializer):
    """A whole new visiting order of the route's stops, based on `plan_version`."""

    stops = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIG_ID),
        max_length=REORDER_MAX_STOPS,
        help_text="Every stop id of the route, each once, in the new visiting order; stops "
        "already visited stay first, in their order. Anything else is a 422.",
    )
    plan_version = plan_version_field()


class PlanVersionInputSerializer(StrictInputSerializer):
    plan_version = plan_version_field()


class StopOutputSerializer(serializers.ModelSerializer):
    order_reference = serializers.CharField(source="order.reference", read_only=True)
    order_status = serializers.CharField(
        source="order.status", read_only=True, help_text="The order's status (see orders)."
    )
    customer_name = serializers.CharField(source="order.customer_name", read_only=True)
    address = serializers.CharField(source="order.address", read_only=True)
    latitude = serializers.FloatField(source="order.latitude", read_only=True, allow_null=True)
    longitude = serializers.FloatField(source="order.longitude", read_only=True, allow_null=True)
    window_start = serializers.DateTimeField(
        source="order.window_start", read_only=True, allow_null=True
    )
    window_end = serializers.DateTimeField(
        source="order.window_end", read_only=True, allow_null=True
    )
    eta = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="The estimated arrival, refreshed after every plan change and as the "
        "vehicle moves; null until first computed and for a visited stop's old estimate.",
    )
    late_risk = serializers.BooleanField(
        read_only=True,
        help_text="The ETA is past the order's window end (false once the vehicle is there).",
    )

    class Meta:
        model = Stop
        fields = [
            "id",
            "sequence",
            "order",
            "order_reference",
            "order_status",
            "customer_name",
            "address",
            "latitude",
            "longitude",
            "window_start",
            "window_end",
            "planned_arrival",
            "eta",
            "eta_updated_at",
            "late_risk",
            "actual_arrival",
            "actual_departure",
        ]
        read_only_fields = fields


class RouteOutputSerializer(serializers.ModelSerializer):
    hub_name = serializers.CharField(source="hub.name", read_only=True)
    vehicle_plate = serializers.CharField(source="vehicle.plate", read_only=True, allow_null=True)
    driver_name = serializers.CharField(source="driver.name", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=Route.Status.choices, read_only=True)
    plan_version = serializers.IntegerField(
        read_only=True, help_text="Send it back with a plan change (add, move, remove, dispatch)."
    )
    stop_count = serializers.IntegerField(read_only=True)
    done_count = serializers.IntegerField(
        read_only=True, help_text="Stops delivered, failed or otherwise finished."
    )
    late_count = serializers.IntegerField(
        read_only=True, help_text="Stops not yet reached whose ETA is past their window."
    )
    updated_at = serializers.DateTimeField(
        source="changed_at",
        read_only=True,
        help_text="The last change of the route, its plan, a visit, an ETA or an order on one "
        "of its stops (what `updated_since` compares).",
    )

    class Meta:
        model = Route
        fields = [
            "id",
            "hub",
            "hub_name",
            "date",
            "vehicle",
            "vehicle_plate",
            "driver",
            "driver_name",
            "status",
            "plan_version",
            "dispatched_at",
            "stop_count",
            "done_count",
            "late_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RouteDetailOutputSerializer(RouteOutputSerializer):
    stops = StopOutputSerializer(
        source="stop_rows", many=True, read_only=True, help_text="In visiting order."
    )

    class Meta(RouteOutputSerializer.Meta):
        fields = [*RouteOutputSerializer.Meta.fields, "stops"]
        read_only_fields = fields
