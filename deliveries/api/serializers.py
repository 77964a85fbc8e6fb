"""Input and output shapes of the orders API. No logic here: the services validate and write."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from tenancy.api.serializers import AwareDateTimeField, StrictInputSerializer

from ..models import DeliveryEvent, Order, OrderStatus
from ..models.orders import ORDER_DATA_FIELDS
from ..services.order_batch import BATCH_MAX_ITEMS

BIG_ID = 2**63 - 1


class OrderInputSerializer(StrictInputSerializer):
    """An order to create. Cross-field rules: `latitude` and `longitude` come together (both or
    neither; without them the order needs a geocoder, and is refused when none is configured);
    `window_end` is after `window_start`. Date-times need a time zone."""

    reference = serializers.CharField(
        max_length=64, min_length=1, help_text="Your unique reference of the order."
    )
    customer_name = serializers.CharField(max_length=120, min_length=1)
    address = serializers.CharField(max_length=255, min_length=1)
    hub = serializers.IntegerField(min_value=1, max_value=BIG_ID, help_text="The hub's id.")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    email = serializers.EmailField(
        max_length=254, required=False, allow_null=True, default=None, help_text="Omit or null."
    )
    latitude = serializers.FloatField(
        min_value=-90, max_value=90, required=False, allow_null=True, help_text="With longitude."
    )
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, required=False, allow_null=True, help_text="With latitude."
    )
    window_start = AwareDateTimeField(
        required=False, allow_null=True, help_text="With a time zone offset."
    )
    window_end = AwareDateTimeField(
        required=False, allow_null=True, help_text="After window_start; with a time zone offset."
    )
    service_minutes = serializers.IntegerField(min_value=0, max_value=240, default=5)
    priority = serializers.ChoiceField(choices=Order.Priority.choices, default=0)
    weight_kg = serializers.FloatField(min_value=0, max_value=100_000, default=0)
    volume_l = serializers.FloatField(min_value=0, max_value=1_000_000, default=0)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [attrs.get(name) is not None for name in ("latitude", "longitude")]
        if any(given) and not all(given):
            raise serializers.ValidationError(
                {"latitude": ["Give both latitude and longitude, or neither."]}
            )
        if not any(given) and not settings.GEOCODER_URL:
            raise serializers.ValidationError(
                {"latitude": ["Coordinates are required: no geocoder is configured."]}
            )
        start, end = attrs.get("window_start"), attrs.get("window_end")
        if start and end and end <= start:
            raise serializers.ValidationError({"window_end": ["Must be after window_start."]})
        attrs["email"] = attrs.get("email") or ""
        return attrs


class NullIfBlankEmailField(serializers.EmailField):
    """An order without an email answers null, not "" (which is no email address)."""

    def to_representation(self, value: Any) -> str | None:  # type: ignore[override]
        return str(value) if value else None


class OrderUpdateInputSerializer(StrictInputSerializer):
    """PATCH: any of an order's own fields; those not given keep their values. The rules are
    a new order's (both coordinates or neither, an aware window ending after it starts, a
    reference unique in the organization), checked against the order as it would become."""

    reference = serializers.CharField(max_length=64, min_length=1, required=False)
    customer_name = serializers.CharField(max_length=120, min_length=1, required=False)
    address = serializers.CharField(max_length=255, min_length=1, required=False)
    hub = serializers.IntegerField(
        min_value=1, max_value=BIG_ID, required=False, help_text="Only while on no route."
    )
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(
        max_length=254, required=False, allow_null=True, help_text="null removes it."
    )
    latitude = serializers.FloatField(
        min_value=-90, max_value=90, required=False, allow_null=True, help_text="With longitude."
    )
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, required=False, allow_null=True, help_text="With latitude."
    )
    window_start = AwareDateTimeField(required=False, allow_null=True)
    window_end = AwareDateTimeField(required=False, allow_null=True)
    service_minutes = serializers.IntegerField(min_value=0, max_value=240, required=False)
    priority = serializers.ChoiceField(choices=Order.Priority.choices, required=False)
    weight_kg = serializers.FloatField(min_value=0, max_value=100_000, required=False)
    volume_l = serializers.FloatField(min_value=0, max_value=1_000_000, required=False)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "email" in attrs:
            attrs["email"] = attrs["email"] or ""
        return attrs


class OrderCancelInputSerializer(StrictInputSerializer):
    note = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="",
        help_text="Why, for the order's timeline.",
    )  # fmt: skip


class OrderBatchInputSerializer(StrictInputSerializer):
    """The items are checked one by one (see the answer's `results`), so one bad item never
    fails the others; only a body that is not a list of 1 to 1,000 objects is refused whole."""

    orders = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=BATCH_MAX_ITEMS,
        help_text="Each item takes the fields of `orders_create`.",
    )


class ProblemFieldErrorSerializer(serializers.Serializer):
    pointer = serializers.CharField(help_text='JSON pointer to the field, e.g. "/window_end".')
    detail = serializers.CharField()
    code = serializers.CharField()


class OrderBatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in `orders`, from 0.")
    status = serializers.ChoiceField(
        choices=[201, 400, 409],
        help_text="201 created; 400 invalid (see `errors`); 409 the reference exists already "
        "(`existing_id`, `location`).",
    )
    id = serializers.IntegerField(required=False, help_text="The created order's id.")
    reference = serializers.CharField(required=False)
    tracking_code = serializers.CharField(required=False)
    location = serializers.CharField(
        required=False, help_text="The created (201) or existing (409) order's URL."
    )
    existing_id = serializers.IntegerField(required=False)
    # The metaclass takes declared fields off the class, so `Serializer.errors` stays intact.
    errors = ProblemFieldErrorSerializer(  # type: ignore[assignment]
        many=True,
        required=False,
        help_text="The item's bad fields, as a single create's problem lists them (the "
        "pointer is relative to the item).",
    )


class OrderBatchOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = OrderBatchItemResultSerializer(many=True)


class OrderOutputSerializer(serializers.ModelSerializer):
    # A plain string here, so the schema has one status enum (the transition's `to_status`).
    status = serializers.CharField(
        read_only=True, help_text="One of: " + ", ".join(OrderStatus.values) + "."
    )
    hub_name = serializers.CharField(source="hub.name", read_only=True)
    needs_coordinates = serializers.BooleanField(read_only=True)
    email = NullIfBlankEmailField(read_only=True, allow_null=True)

    class Meta:
        model = Order
        fields = [
            "id",
            *ORDER_DATA_FIELDS,
            "status",
            "needs_coordinates",
            "hub",
            "hub_name",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrderTransitionInputSerializer(StrictInputSerializer):
    to_status = serializers.ChoiceField(choices=OrderStatus.choices)
    reason_code = serializers.CharField(
        max_length=32, required=False, allow_blank=True, allow_null=True
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, allow_null=True)
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, required=False, allow_null=True
    )


class DeliveryEventOutputSerializer(serializers.ModelSerializer):
    from_status = serializers.CharField(
        read_only=True, help_text="The status before; empty for the order's creation."
    )
    actor = serializers.SerializerMethodField()
    reason_code = serializers.SerializerMethodField()
    reason_label = serializers.SerializerMethodField()

    class Meta:
        model = DeliveryEvent
        fields = [
            "id",
            "from_status",
            "to_status",
            "at",
            "actor",
            "source",
            "reason_code",
            "reason_label",
            "latitude",
            "longitude",
            "note",
        ]
        read_only_fields = fields

    def get_actor(self, event: DeliveryEvent) -> str | None:
        return event.actor.get_username() if event.actor else None

    def get_reason_code(self, event: DeliveryEvent) -> str | None:
        return event.failure_reason.code if event.failure_reason else None

    def get_reason_label(self, event: DeliveryEvent) -> str | None:
        return event.failure_reason.label if event.failure_reason else None


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
