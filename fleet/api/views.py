"""The fleet REST API: each view translates HTTP into one fleet selector or service call. Hubs,
zones, vehicles and drivers are also created and changed (admin scope), devices created,
changed and their tokens rotated (tracking scope). Any API token may read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tenancy.api.filters import StrictFilterBackend
from tenancy.api.models import Scope
from tenancy.api.pagination import KeysetPagination
from tenancy.api.serializers import EmptyInputSerializer
from tenancy.api.views import OrganizationApiView, created
from tenancy.models import Role

from .. import selectors, services
from ..filtersets import (
    DeviceFilterSet,
    DriverFilterSet,
    HubFilterSet,
    VehicleFilterSet,
    VehicleStateFilterSet,
    ZoneFilterSet,
)
from ..models import Device, Driver, Hub, Vehicle, VehicleState, Zone
from .serializers import (
    DeviceCreatedSerializer,
    DeviceInputSerializer,
    DeviceSerializer,
    DeviceUpdateInputSerializer,
    DriverInputSerializer,
    DriverSerializer,
    DriverUpdateInputSerializer,
    HubInputSerializer,
    HubSerializer,
    HubUpdateInputSerializer,
    PositionHistoryPageSerializer,
    PositionRangeSerializer,
    PositionSerializer,
    VehicleInputSerializer,
    VehicleSerializer,
    VehicleStateSerializer,
    VehicleUpdateInputSerializer,
    ZoneCollectionSerializer,
    ZoneFeatureInputSerializer,
    ZoneFeatureSerializer,
    ZoneFeatureUpdateInputSerializer,
)


class FleetApiView(OrganizationApiView):
    pagination_class: type[KeysetPagination] | None = KeysetPagination
    filter_backends = [StrictFilterBackend]

    def listing(self, queryset: QuerySet[Any], serializer: type[Any]) -> Response:
        page = self.paginate_queryset(self.filter_queryset(queryset))
        return self.get_paginated_response(serializer(page, many=True).data)

    @staticmethod
    def one(queryset: QuerySet[Any], pk: int) -> Any:
        try:
            return queryset.get(pk=pk)
        except queryset.model.DoesNotExist as exc:
            raise Http404(f"No such {queryset.model._meta.verbose_name}.") from exc


class FleetAdminApiView(FleetApiView):
    """Hubs, zones, vehicles and drivers: any token reads them; creating or changing one needs
    `admin` (a console admin in a session), as in Django admin."""

    write_scope = Scope.ADMIN
    write_roles = (Role.ADMIN,)


class HubListApi(FleetAdminApiView):
    serializer_class = HubSerializer
    filterset_class = HubFilterSet
    queryset = Hub.objects.none()

    @extend_schema(
        operation_id="hubs_list", summary="List hubs", responses=HubSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        hubs = selectors.hub_queryset(organization_id=self.organization_id, hub_ids=self.hub_ids)
        return self.listing(hubs, HubSerializer)

    @extend_schema(
        operation_id="hubs_create",
        summary="Create a hub",
        description="A depot of your organization, its `code` unique in it: 201 with its "
        "`Location`; a 400 names the field otherwise (a taken code too). A member scoped to "
        "some hubs cannot create one (403).",
        request=HubInputSerializer,
        responses={201: OpenApiResponse(HubSerializer, description="Created")},
    )
    def post(self, request: Request) -> Response:
        data = HubInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        hub = services.hub_create(
            organization_id=self.organization_id,
            fields=dict(data.validated_data),
            hub_ids=self.hub_ids,
        )
        location = reverse("fleet-api:hub_detail", kwargs={"hub_id": hub.pk})
        return created(HubSerializer(hub).data, location)


class HubDetailApi(FleetAdminApiView):
    serializer_class = HubSerializer
    queryset = Hub.objects.none()

    def hub_or_404(self, hub_id: int) -> Hub:
        hubs = selectors.hub_queryset(organization_id=self.organization_id, hub_ids=self.hub_ids)
        return self.one(hubs, hub_id)  # type: ignore[no-any-return]

    @extend_schema(operation_id="hubs_retrieve", summary="Read a hub")
    def get(self, request: Request, hub_id: int) -> Response:
        return Response(HubSerializer(self.hub_or_404(hub_id)).data)

    @extend_schema(
        operation_id="hubs_partial_update",
        summary="Change a hub",
        description="Some of its data with a new hub's rules (a code unique in your "
        "organization; `latitude` and `longitude` together); members not given keep their "
        "values. New ETA parameters apply from the routes' next ETA refresh.",
        request=HubUpdateInputSerializer,
        responses={200: HubSerializer},
    )
    def patch(self, request: Request, hub_id: int) -> Response:
        data = HubUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.hub_or_404(hub_id)
        hub = services.hub_update(
            organization_id=self.organization_id,
            hub_id=hub_id,
            changes=dict(data.validated_data),
            hub_ids=self.hub_ids,
        )
        return Response(HubSerializer(hub).data)


class ZoneListApi(FleetAdminApiView):
    serializer_class = ZoneCollectionSerializer
    filterset_class = ZoneFilterSet
    pagination_class = None
    queryset = Zone.objects.none()

    @extend_schema(
        operation_id="zones_list",
        summary="Zones as GeoJSON",
        description="Every zone as one GeoJSON FeatureCollection (RFC 7946; [lon, lat]); "
        "with `updated_since`, the zones changed since.",
        # Not a paginated list to drf-spectacular, so the FilterSet's parameter is named here.
        parameters=[
            OpenApiParameter(
                "updated_since",
                OpenApiTypes.DATETIME,
                description="Zones whose data or polygon changed at or after this time (ISO "
                "8601 with a time zone).",
            )
        ],
        responses=ZoneCollectionSerializer,
    )
    def get(self, request: Request) -> Response:
        zones = selectors.zone_list(organization_id=self.organization_id, hub_ids=self.hub_ids)
        features = ZoneFeatureSerializer(self.filter_queryset(zones), many=True).data
        return Response({"type": "FeatureCollection", "features": features})

    @extend_schema(
        operation_id="zones_create",
        summary="Create a zone",
        description="A zone as a GeoJSON Feature, the shape the zone detail answers: its "
        "`geometry` a Polygon or a MultiPolygon of [lon, lat] positions (closed rings, in "
        "range, not self-intersecting, parts not overlapping), its "
        "`properties` `name` (needed), `kind`, `hub` (yours, or null for the whole "
        "organization) and `color`. 201 with its `Location`; a 400 names the member otherwise.",
        request=ZoneFeatureInputSerializer,
        responses={201: OpenApiResponse(ZoneFeatureSerializer, description="Created")},
    )
    def post(self, request: Request) -> Response:
        data = ZoneFeatureInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with zone_refusals_as_members():
            zone = services.zone_create(
                organization_id=self.organization_id,
                fields=zone_fields(data.validated_data),
                hub_ids=self.hub_ids,
            )
        location = reverse("fleet-api:zone_detail", kwargs={"zone_id": zone.pk})
        return created(ZoneFeatureSerializer(zone).data, location)


class ZoneDetailApi(FleetAdminApiView):
    serializer_class = ZoneFeatureSerializer
    queryset = Zone.objects.none()

    def zone_or_404(self, zone_id: int) -> Zone:
        zones = selectors.zone_list(organization_id=self.organization_id, hub_ids=self.hub_ids)
        return self.one(zones, zone_id)  # type: ignore[no-any-return]

    @extend_schema(operation_id="zones_retrieve", summary="A zone as a GeoJSON Feature")
    def get(self, request: Request, zone_id: int) -> Response:
        return Response(ZoneFeatureSerializer(self.zone_or_404(zone_id)).data)

    @extend_schema(
        operation_id="zones_partial_update",
        summary="Change a zone",
        description="A GeoJSON Feature with what changes: a new `geometry` (a whole Polygon, "
        "with a new zone's rules) and/or some `properties` (`name`, `kind`, `hub`, `color`); "
        "what is not given keeps its value. Alerts and the live map's zone filters use the "
        "new polygon from their next evaluation.",
        request=ZoneFeatureUpdateInputSerializer,
        responses={200: ZoneFeatureSerializer},
    )
    def patch(self, request: Request, zone_id: int) -> Response:
        data = ZoneFeatureUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.zone_or_404(zone_id)
        with zone_refusals_as_members():
            zone = services.zone_update(
                organization_id=self.organization_id,
                zone_id=zone_id,
                changes=zone_fields(data.validated_data),
                hub_ids=self.hub_ids,
            )
        return Response(ZoneFeatureSerializer(zone).data)


def zone_fields(feature: dict[str, Any]) -> dict[str, Any]:
    """A validated Feature as the zone's fields: its properties and its geometry."""
    fields = dict(feature.get("properties", {}))
    if "geometry" in feature:
        fields["geometry"] = dict(feature["geometry"])
    return fields


@contextmanager
def zone_refusals_as_members() -> Iterator[None]:
    """The zone services name the zone's fields; in the Feature all but `geometry` are
    members of `properties`, so a refusal points there (`/properties/hub`)."""
    try:
        yield
    except DjangoValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        errors: dict[str, Any] = {}
        for name, messages in exc.message_dict.items():
            if name == "geometry":
                errors["geometry"] = messages
            else:
                errors.setdefault("properties", {})[name] = messages
        raise serializers.ValidationError(errors) from exc


class VehicleListApi(FleetAdminApiView):
    serializer_class = VehicleSerializer
    filterset_class = VehicleFilterSet
    queryset = Vehicle.objects.none()

    def get_queryset(self) -> QuerySet[Vehicle]:
        if getattr(self, "swagger_fake_view", False):
            return Vehicle.objects.none()
        return selectors.vehicle_list(organization_id=self.organization_id, hub_ids=self.hub_ids)

    @extend_schema(
        operation_id="vehicles_list",
        summary="List vehicles",
        responses=VehicleSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return self.listing(self.get_queryset(), VehicleSerializer)

    @extend_schema(
        operation_id="vehicles_create",
        summary="Create a vehicle",
        description="A vehicle of one of your hubs, its plate unique in your organization, "
        "its driver (optional) yours: 201 with its `Location`; a 400 names the field "
        "otherwise. Its tracker is registered with POST devices/.",
        request=VehicleInputSerializer,
        responses={201: OpenApiResponse(VehicleSerializer, description="Created")},
    )
    def post(self, request: Request) -> Response:
        data = VehicleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vehicle = services.vehicle_create(
            organization_id=self.organization_id,
            fields=dict(data.validated_data),
            hub_ids=self.hub_ids,
        )
        location = reverse("fleet-api:vehicle_detail", kwargs={"vehicle_id": vehicle.pk})
        return created(VehicleSerializer(vehicle).data, location)


class VehicleDetailApi(FleetAdminApiView):
    serializer_class = VehicleSerializer
    queryset = Vehicle.objects.none()

    def vehicle_or_404(self, vehicle_id: int) -> Vehicle:
        vehicles = selectors.vehicle_list(
            organization_id=self.organization_id, hub_ids=self.hub_ids
        )
        return self.one(vehicles, vehicle_id)  # type: ignore[no-any-return]

    @extend_schema(operation_id="vehicles_retrieve", summary="Read a vehicle")
    def get(self, request: Request, vehicle_id: int) -> Response:
        return Response(VehicleSerializer(self.vehicle_or_404(vehicle_id)).data)

    @extend_schema(
        operation_id="vehicles_partial_update",
        summary="Change a vehicle",
        description="Some of its data with a new vehicle's rules (your hub, a plate unique in "
        "your organization, your driver or null); members not given keep their values. "
        "`active: false` takes it out of the lists' `active=true`; its history stays.",
        request=VehicleUpdateInputSerializer,
        responses={200: VehicleSerializer},
    )
    def patch(self, request: Request, vehicle_id: int) -> Response:
        data = VehicleUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.vehicle_or_404(vehicle_id)
        vehicle = services.vehicle_update(
            organization_id=self.organization_id,
            vehicle_id=vehicle_id,
            changes=dict(data.validated_data),
            hub_ids=self.hub_ids,
        )
        return Response(VehicleSerializer(vehicle).data)


class DriverListApi(FleetAdminApiView):
    serializer_class = DriverSerializer
    filterset_class = DriverFilterSet
    queryset = Driver.objects.none()

    def get_queryset(self) -> QuerySet[Driver]:
        if getattr(self, "swagger_fake_view", False):
            return Driver.objects.none()
        return selectors.driver_list(organization_id=self.organization_id, hub_ids=self.hub_ids)

    @extend_schema(
        operation_id="drivers_list", summary="List drivers", responses=DriverSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        return self.listing(self.get_queryset(), DriverSerializer)

    @extend_schema(
        operation_id="drivers_create",
        summary="Create a driver",
        description="A driver of your organization (of one of your hubs, or of none): 201 "
        "with its `Location`. The driver app's login is given in Django admin.",
        request=DriverInputSerializer,
        responses={201: OpenApiResponse(DriverSerializer, description="Created")},
    )
    def post(self, request: Request) -> Response:
        data = DriverInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        driver = services.driver_create(
            organization_id=self.organization_id,
            fields=dict(data.validated_data),
            hub_ids=self.hub_ids,
        )
        location = reverse("fleet-api:driver_detail", kwargs={"driver_id": driver.pk})
        return created(DriverSerializer(driver).data, location)


class DriverDetailApi(FleetAdminApiView):
    serializer_class = DriverSerializer
    queryset = Driver.objects.none()

    def driver_or_404(self, driver_id: int) -> Driver:
        drivers = selectors.driver_list(organization_id=self.organization_id, hub_ids=self.hub_ids)
        return self.one(drivers, driver_id)  # type: ignore[no-any-return]

    @extend_schema(operation_id="drivers_retrieve", summary="Read a driver")
    def get(self, request: Request, driver_id: int) -> Response:
        return Response(DriverSerializer(self.driver_or_404(driver_id)).data)

    @extend_schema(
        operation_id="drivers_partial_update",
        summary="Change a driver",
        description="Their `name`, `phone`, `hub` (yours, or null) or `active`; members not "
        "given keep their values.",
        request=DriverUpdateInputSerializer,
        responses={200: DriverSerializer},
    )
    def patch(self, request: Request, driver_id: int) -> Response:
        data = DriverUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.driver_or_404(driver_id)
        driver = services.driver_update(
            organization_id=self.organization_id,
            driver_id=driver_id,
            changes=dict(data.validated_data),
            hub_ids=self.hub_ids,
        )
        return Response(DriverSerializer(driver).data)


class LatestPositionPagination(KeysetPagination):
    ordering = ("vehicle_id",)


class PositionLatestApi(FleetApiView):
    serializer_class = VehicleStateSerializer
    pagination_class = LatestPositionPagination
    filterset_class = VehicleStateFilterSet
    queryset = VehicleState.objects.none()

    @extend_schema(
        operation_id="positions_latest",
        summary="Latest position per vehicle",
        description="Each vehicle's last stored fix and derived status, by vehicle id. With "
        "`updated_since`, the vehicles whose last fix was stored (`server_time`) at or after "
        "it. Turning offline is not a new fix, so it is not listed: a vehicle is offline "
        "once its `fix_time` is older than the organization's offline threshold.",
        responses=VehicleStateSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        states = selectors.vehicle_state_list(
            organization_id=self.organization_id, hub_ids=self.hub_ids
        )
        return self.listing(states, VehicleStateSerializer)


class PositionHistoryPagination(KeysetPagination):
    ordering = ("fix_time", "device_id")
    max_limit = 5000


class VehiclePositionHistoryApi(FleetApiView):
    serializer_class = PositionSerializer
    pagination_class = PositionHistoryPagination
    queryset = Vehicle.objects.none()

    @extend_schema(
        operation_id="vehicles_positions_list",
        summary="A vehicle's positions between two times",
        description="Stored fixes with `from` <= fix time < `to` (at most 7 days), oldest first, "
        "a page at a time (follow `next`). With `output=geojson` the page is a GeoJSON "
        "FeatureCollection of Points (properties: fix_time, speed_kmh, heading...).",
        parameters=[
            OpenApiParameter("from", str, required=True, description="Aware ISO 8601 start."),
            OpenApiParameter("to", str, required=True, description="Aware ISO 8601 end."),
            OpenApiParameter("output", str, enum=["json", "geojson"], required=False),
        ],
        responses={
            200: PositionHistoryPageSerializer,
            404: OpenApiResponse(description="No such vehicle"),
        },
    )
    def get(self, request: Request, vehicle_id: int) -> Response:
        vehicles = selectors.vehicle_list(
            organization_id=self.organization_id, hub_ids=self.hub_ids
        )
        vehicle = self.one(vehicles, vehicle_id)
        query = PositionRangeSerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        shape = query.validated_data["output"]
        positions = selectors.vehicle_position_history(
            organization_id=self.organization_id,
            vehicle_id=vehicle.pk,
            start=query.validated_data["from"],
            end=query.validated_data["to"],
        )
        page = self.paginate_queryset(positions)
        rows = PositionSerializer(page, many=True).data
        if shape == "geojson":
            return self.get_paginated_response(
                {"type": "FeatureCollection", "features": [position_feature(r) for r in rows]}
            )
        return self.get_paginated_response(rows)


def position_feature(row: dict[str, Any]) -> dict[str, Any]:
    properties = {k: v for k, v in row.items() if k not in ("latitude", "longitude")}
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]},
        "properties": properties,
    }


class DeviceApiView(FleetApiView):
    """Devices: any token reads them; creating, changing one or rotating its token needs the
    `tracking` scope (a telematics integration need not hold `admin`, which also mints tokens
    and webhooks), or a console admin in a session."""

    write_scope = Scope.TRACKING
    write_roles = (Role.ADMIN,)
    shown_once = ("token",)
    queryset = Device.objects.none()

    def device_or_404(self, device_id: int) -> Device:
        try:
            return selectors.device_get(
                organization_id=self.organization_id, device_id=device_id, hub_ids=self.hub_ids
            )
        except Device.DoesNotExist as exc:
            raise Http404("No such device.") from exc


class DeviceListCreateApi(DeviceApiView):
    serializer_class = DeviceSerializer
    filterset_class = DeviceFilterSet

    @extend_schema(
        operation_id="devices_list",
        summary="List devices",
        description="Your trackers in id order, with their vehicles; never their tokens.",
        responses=DeviceSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        devices = selectors.device_list(organization_id=self.organization_id, hub_ids=self.hub_ids)
        return self.listing(devices, DeviceSerializer)

    @extend_schema(
        operation_id="devices_create",
        summary="Create a device",
        description="Registers a tracker and answers its **device token** once (only its hash "
        "is kept; rotate it if it is lost). The tracker sends the token with its fixes "
        "(OsmAnd `token=`, or `Authorization: Bearer` on positions/batch/); it opens nothing "
        "else. An identifier already in use anywhere is a 400 that does not say whose.",
        request=DeviceInputSerializer,
        responses={201: OpenApiResponse(DeviceCreatedSerializer, description="Created")},
    )
    def post(self, request: Request) -> Response:
        data = DeviceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        device, plain = services.device_create(
            organization_id=self.organization_id,
            vehicle_id=fields.pop("vehicle"),
            hub_ids=self.hub_ids,
            **fields,
        )
        body = {**DeviceSerializer(device).data, "token": plain}  # DeviceCreatedSerializer
        location = reverse("fleet-api:device_detail", kwargs={"device_id": device.pk})
        return created(body, location)


class DeviceDetailApi(DeviceApiView):
    serializer_class = DeviceSerializer
    pagination_class = None

    @extend_schema(operation_id="devices_retrieve", summary="Read a device")
    def get(self, request: Request, device_id: int) -> Response:
        return Response(DeviceSerializer(self.device_or_404(device_id)).data)

    @extend_schema(
        operation_id="devices_partial_update",
        summary="Change a device",
        description="Its `name`, `protocol`, `vehicle` (another of yours without a device, or "
        "null) or `active` (false: its fixes are refused); members not given keep their "
        "values. The ingest follows within 30 seconds (each server's device directory "
        "reloads): fixes sent meanwhile may still go to the old vehicle. The identifier does "
        "not change (register another tracker as a new device); the token is rotated with "
        "rotate-token.",
        request=DeviceUpdateInputSerializer,
        responses={200: DeviceSerializer},
    )
    def patch(self, request: Request, device_id: int) -> Response:
        data = DeviceUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.device_or_404(device_id)
        device = services.device_update(
            organization_id=self.organization_id,
            device_id=device_id,
            changes=dict(data.validated_data),
            hub_ids=self.hub_ids,
        )
        return Response(DeviceSerializer(device).data)


class DeviceTokenRotateApi(DeviceApiView):
    serializer_class = EmptyInputSerializer
    pagination_class = None

    @extend_schema(
        operation_id="devices_token_rotate",
        summary="Issue a new device token",
        description="Answers a new token once; the old one stops opening the ingest within "
        "30 seconds (each server's device directory reloads). Put the new token in the "
        "tracker first.",
        request=EmptyInputSerializer,
        responses={200: DeviceCreatedSerializer},
    )
    def post(self, request: Request, device_id: int) -> Response:
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        self.device_or_404(device_id)
        device, plain = services.device_token_rotate(
            organization_id=self.organization_id, device_id=device_id, hub_ids=self.hub_ids
        )
        return Response({**DeviceSerializer(device).data, "token": plain})
