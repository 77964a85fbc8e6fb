"""Output shapes of the fleet API and the query of a position history. No logic here."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from tenancy.api.serializers import AwareDateTimeField, StrictInputSerializer, shown_once_field

from ..models import Device, Driver, Hub, Vehicle, VehicleState, Zone


class HubSerializer(serializers.ModelSerializer):
    class Meta:
        model = Hub
        fields = [
            "id", "name", "code", "region", "address", "latitude", "longitude", "eta_speed_kmh",
            "eta_detour_factor", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class ZoneFeatureSerializer(serializers.Serializer):
    """A zone as a GeoJSON Feature (RFC 7946): its polygon and, in `properties`, its data."""

    type = serializers.CharField(default="Feature", help_text='Always "Feature".')
    id = serializers.IntegerField()
    geometry = serializers.JSONField(
        help_text="A GeoJSON Polygon or MultiPolygon of [lon, lat] positions."
    )
    properties = serializers.DictField(help_text="name, kind, hub, color, updated_at.")

    def to_representation(self, zone: Zone) -> dict[str, Any]:
        return {
            "type": "Feature",
            "id": zone.pk,
            "geometry": zone.geometry,
            "properties": {
                "name": zone.name,
                "kind": zone.kind,
                "hub": zone.hub_id,
                "color": zone.color,
                "updated_at": serializers.DateTimeField().to_representation(zone.updated_at),
            },
        }


class ZoneCollectionSerializer(serializers.Serializer):
    type = serializers.CharField(help_text='Always "FeatureCollection".')
    features = ZoneFeatureSerializer(many=True)


class DriverSerializer(serializers.ModelSerializer):
    class Meta:
        model = Driver
        fields = ["id", "name", "phone", "hub", "active", "updated_at"]
        read_only_fields = fields


class VehicleSerializer(serializers.ModelSerializer):
    device = serializers.SerializerMethodField(help_text="The tracker's identifier, or null.")

    class Meta:
        model = Vehicle
        fields = [
            "id", "plate", "name", "type", "capacity_kg", "capacity_volume_l", "hub", "driver",
            "tags", "active", "device", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_device(self, vehicle: Vehicle) -> str | None:
        device = getattr(vehicle, "device", None)
        return device.identifier if device is not None else None


class VehicleStateSerializer(serializers.ModelSerializer):
    """A vehicle's latest position and derived status (moving, idle, stopped, offline)."""

    vehicle = serializers.IntegerField(source="vehicle_id")
    plate = serializers.CharField(source="vehicle.plate")

    class Meta:
        model = VehicleState
        fields = [
            "vehicle", "plate", "status", "fix_time", "server_time", "latitude", "longitude",
            "speed_kmh", "heading", "accuracy_m", "battery_pct", "ignition", "stationary_since",
        ]  # fmt: skip
        read_only_fields = fields


class PositionSerializer(serializers.Serializer):
    fix_time = serializers.DateTimeField()
    server_time = serializers.DateTimeField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    speed_kmh = serializers.FloatField(allow_null=True)
    heading = serializers.FloatField(allow_null=True)
    accuracy_m = serializers.FloatField(allow_null=True)
    altitude_m = serializers.FloatField(allow_null=True)
    odometer_m = serializers.FloatField(allow_null=True)
    battery_pct = serializers.FloatField(allow_null=True)
    ignition = serializers.BooleanField(allow_null=True)
    device = serializers.IntegerField(source="device_id")


class PositionFeatureSerializer(serializers.Serializer):
    type = serializers.CharField(help_text='Always "Feature".')
    geometry = serializers.JSONField(help_text="A GeoJSON Point: [lon, lat].")
    properties = serializers.DictField(help_text="The fix's other members (fix_time...).")


class PositionFeatureCollectionSerializer(serializers.Serializer):
    type = serializers.CharField(help_text='Always "FeatureCollection".')
    features = PositionFeatureSerializer(many=True)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="PositionHistoryResults",
        serializers=[PositionSerializer(many=True), PositionFeatureCollectionSerializer],
        resource_type_field_name=None,
        many=False,
    )
)
class PositionHistoryResultsField(serializers.JSONField):
    """A page's fixes: a list (`output=json`) or a GeoJSON FeatureCollection (`geojson`)."""


class PositionHistoryPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page's URL; null at the end.")
    next_cursor = serializers.CharField(allow_null=True, help_text="The next page's `cursor`.")
    results = PositionHistoryResultsField()


class PositionRangeSerializer(StrictInputSerializer):
    """`from` and `to` (aware date-times) bound a vehicle's history; at most 7 days apart."""

    # `from` is a Python keyword: the field is named in the constructor.
    to = AwareDateTimeField(help_text="End, exclusive; with a time zone offset.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["from"] = AwareDateTimeField(help_text="Start, inclusive; with an offset.")
        # The pagination's own parameters travel in the same query string.
        self.fields["cursor"] = serializers.CharField(required=False)
        self.fields["limit"] = serializers.CharField(required=False)
        # Not `format`: DRF reads that one as the renderer's name.
        self.fields["output"] = serializers.ChoiceField(
            choices=["json", "geojson"], required=False, default="json"
        )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs["from"], attrs["to"]
        if end <= start:
            raise serializers.ValidationError({"to": ["Must be after from."]})
        if (end - start).total_seconds() > 7 * 86400:
            raise serializers.ValidationError({"to": ["At most 7 days after from."]})
        return attrs


class DeviceSerializer(serializers.ModelSerializer):
    """A tracker: its identifier as it sends it, its vehicle. Never its token (only a hash is
    kept, and it opens the tracker's ingest only)."""

    vehicle = serializers.IntegerField(
        source="vehicle_id", allow_null=True, help_text="The vehicle's id, or null."
    )

    class Meta:
        model = Device
        fields = [
            "id", "identifier", "name", "protocol", "vehicle", "active", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class DeviceCreatedSerializer(DeviceSerializer):
    # Only its hash is kept; the tracker sends it with its fixes.
    token = shown_once_field("The device token")

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "token"]
        read_only_fields = fields


class DeviceInputSerializer(StrictInputSerializer):
    """A device to create; its token is made by Doorstep and answered once."""

    identifier = serializers.CharField(
        min_length=1, max_length=64, help_text="The id the tracker sends (unique system-wide)."
    )
    name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    protocol = serializers.ChoiceField(
        choices=Device.Protocol.choices, required=False, default=Device.Protocol.OSMAND
    )
    vehicle = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, allow_null=True, default=None,
        help_text="A vehicle of yours without a device, or null.",
    )  # fmt: skip
    active = serializers.BooleanField(required=False, default=True)


class DeviceUpdateInputSerializer(StrictInputSerializer):
    """Some of a device's data; members not given keep their values. Its identifier does not
    change (another tracker is another device), nor its token here (rotate it)."""

    name = serializers.CharField(max_length=80, required=False, allow_blank=True)
    protocol = serializers.ChoiceField(choices=Device.Protocol.choices, required=False)
    vehicle = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, allow_null=True,
        help_text="Another vehicle of yours without a device, or null to take it off its vehicle.",
    )  # fmt: skip
    active = serializers.BooleanField(
        required=False, help_text="false: its fixes are refused (within 30 s)."
    )


class EveryMemberOptional(StrictInputSerializer):
    """A change's body: put first before a create's serializer, its members, none required."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class VehicleInputSerializer(StrictInputSerializer):
    """A new vehicle: `plate` (unique in your organization) and `hub` are needed."""

    plate = serializers.CharField(min_length=1, max_length=20)
    name = serializers.CharField(max_length=80, allow_blank=True, required=False)
    type = serializers.ChoiceField(choices=Vehicle.Type.choices, required=False)
    capacity_kg = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    capacity_volume_l = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    hub = serializers.IntegerField(min_value=1, max_value=2**63 - 1, help_text="One of your hubs.")
    driver = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, allow_null=True, required=False,
        help_text="A driver of yours, or null.",
    )  # fmt: skip
    tags = serializers.ListField(
        child=serializers.CharField(min_length=1, max_length=32),
        max_length=50,
        required=False,
        help_text="Free tags (the map's priority segments, e.g. express, cold).",
    )
    active = serializers.BooleanField(required=False)


class VehicleUpdateInputSerializer(EveryMemberOptional, VehicleInputSerializer):
    """Some of a vehicle's data; members not given keep their values."""


class DriverInputSerializer(StrictInputSerializer):
    """A new driver: a `name` is needed. The driver app's login is given in Django admin."""

    name = serializers.CharField(min_length=1, max_length=120)
    phone = serializers.CharField(max_length=32, allow_blank=True, required=False)
    hub = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, allow_null=True, required=False,
        help_text="One of your hubs, or null for none.",
    )  # fmt: skip
    active = serializers.BooleanField(required=False)


class DriverUpdateInputSerializer(EveryMemberOptional, DriverInputSerializer):
    """Some of a driver's data; members not given keep their values."""


class HubInputSerializer(StrictInputSerializer):
    """A new hub: `name`, `code` (unique in your organization) and its position are needed;
    the rest is Django admin's hub form."""

    name = serializers.CharField(min_length=1, max_length=120)
    code = serializers.SlugField(
        max_length=32, help_text="Letters, digits, - and _; unique in your organization."
    )
    region = serializers.CharField(max_length=80, allow_blank=True, required=False)
    address = serializers.CharField(max_length=255, allow_blank=True, required=False)
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(
        min_value=-180, max_value=180, help_text="Given with latitude: a hub is one point."
    )
    eta_speed_kmh = serializers.FloatField(
        min_value=3, max_value=130, required=False,
        help_text="The default ETAs' average speed in this hub's area (km/h).",
    )  # fmt: skip
    eta_detour_factor = serializers.FloatField(
        min_value=1, max_value=3, required=False,
        help_text="Road distance over straight-line distance for the default ETAs.",
    )  # fmt: skip


class HubUpdateInputSerializer(EveryMemberOptional, HubInputSerializer):
    """Some of a hub's data; members not given keep their values (latitude and longitude
    together)."""


def ring_list_field(**kwargs: Any) -> serializers.ListField:
    """A polygon's rings: the outline first, then its holes; each at least four [lon, lat]
    positions."""
    return serializers.ListField(
        child=serializers.ListField(
            child=serializers.ListField(
                child=serializers.FloatField(),
                min_length=2,
                max_length=3,
                help_text="[lon, lat], lon -180..180, lat -90..90 (an altitude is dropped).",
            ),
            min_length=4,
            max_length=10_000,
        ),
        min_length=1,
        max_length=100,
        **kwargs,
    )


GEOMETRY_KINDS = 'A zone\'s geometry is a "Polygon" or a "MultiPolygon".'


class ZonePolygonInputSerializer(StrictInputSerializer):
    """A GeoJSON Polygon (RFC 7946): an outer ring, then any holes; each ring closed (first
    position equals last), at least four [lon, lat] positions, no self-intersection."""

    type = serializers.ChoiceField(
        choices=["Polygon"],
        help_text='Always "Polygon".',
        error_messages={"invalid_choice": GEOMETRY_KINDS},
    )
    coordinates = ring_list_field(help_text="The outer ring first, then the holes.")

    def to_internal_value(self, data: Any) -> Any:
        # Another kind of geometry: say so alone, not also that its coordinates do not fit.
        if isinstance(data, dict) and "type" in data and data["type"] != "Polygon":
            raise serializers.ValidationError({"type": [GEOMETRY_KINDS]}, code="invalid_choice")
        return super().to_internal_value(data)


class ZoneMultiPolygonInputSerializer(StrictInputSerializer):
    """A GeoJSON MultiPolygon: polygons (each its rings, as a Polygon's) that do not overlap."""

    type = serializers.ChoiceField(choices=["MultiPolygon"], help_text='Always "MultiPolygon".')
    coordinates = serializers.ListField(
        child=ring_list_field(), min_length=1, max_length=100, help_text="The polygons."
    )


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="ZoneGeometryInput",
        serializers={
            "Polygon": ZonePolygonInputSerializer,
            "MultiPolygon": ZoneMultiPolygonInputSerializer,
        },
        resource_type_field_name="type",
    )
)
class ZoneGeometryField(serializers.Field):
    """A zone's geometry, read by the serializer of its `type`."""

    def to_internal_value(self, data: Any) -> Any:
        kind = data.get("type") if isinstance(data, dict) else None
        shape = (
            ZoneMultiPolygonInputSerializer
            if kind == "MultiPolygon"
            else ZonePolygonInputSerializer
        )
        geometry = shape(data=data)
        geometry.is_valid(raise_exception=True)
        return geometry.validated_data

    def to_representation(self, value: Any) -> Any:
        return value


class ZonePropertiesInputSerializer(StrictInputSerializer):
    """A zone's data: a `name` is needed; the rest is Django admin's zone form."""

    name = serializers.CharField(min_length=1, max_length=120)
    kind = serializers.ChoiceField(choices=Zone.Kind.choices, required=False)
    hub = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, allow_null=True, required=False,
        help_text="One of your hubs, or null for a zone of the whole organization.",
    )  # fmt: skip
    color = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}\Z", required=False, help_text="The map's colour, e.g. #6366f1."
    )


class ZoneFeatureInputSerializer(StrictInputSerializer):
    """A new zone as a GeoJSON Feature: the shape the zone detail answers, without `id` and
    `updated_at`."""

    type = serializers.ChoiceField(choices=["Feature"], help_text='Always "Feature".')
    geometry = ZoneGeometryField(help_text="A Polygon or a MultiPolygon of [lon, lat] positions.")
    properties = ZonePropertiesInputSerializer()


class ZonePropertiesUpdateInputSerializer(EveryMemberOptional, ZonePropertiesInputSerializer):
    """Some of a zone's data; members not given keep their values."""


class ZoneFeatureUpdateInputSerializer(ZoneFeatureInputSerializer):
    """Some of a zone: a new `geometry` (whole) or some `properties`; what is not given stays."""

    type = serializers.ChoiceField(choices=["Feature"], required=False)
    geometry = ZoneGeometryField(required=False, help_text="A whole new Polygon or MultiPolygon.")
    properties = ZonePropertiesUpdateInputSerializer(required=False)
