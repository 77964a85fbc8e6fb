"""Webhook endpoints, their delivery log and the replay of a delivery, over the API. Admin
resources: a token needs the `admin` scope; a console member the admin role (a manager may read
the log and replay, as on the console's webhook page)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tenancy.api.filters import StrictFilterBackend
from tenancy.api.models import Scope
from tenancy.api.pagination import KeysetPagination, NewestFirstPagination
from tenancy.api.serializers import (
    EmptyInputSerializer,
    StrictInputSerializer,
    shown_once_field,
)
from tenancy.api.views import OrganizationApiView
from tenancy.errors import Conflict
from tenancy.models import Role

from ..filtersets import WebhookDeliveryFilterSet, WebhookEndpointFilterSet
from ..models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..selectors.webhooks import webhook_delivery_get, webhook_delivery_list
from ..services import webhooks as services


class WebhookEndpointSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """An endpoint as listed: never its signing secret (answered once, on creation)."""

    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name", "url", "events", "active", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = shown_once_field("The signing secret (docs/webhooks.md)")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


def _events_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        max_length=len(WebhookEvent.choices),
        help_text="The events it receives; an empty list receives none.",
        **kwargs,
    )


class WebhookEndpointInputSerializer(StrictInputSerializer):
    name = serializers.CharField(min_length=1, max_length=120)
    url = serializers.URLField(max_length=500, help_text="http(s) URL that receives POSTs.")
    events = _events_field()
    active = serializers.BooleanField(required=False, default=True)


class WebhookEndpointUpdateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(min_length=1, max_length=120, required=False)
    url = serializers.URLField(max_length=500, required=False)
    events = _events_field(required=False)
    active = serializers.BooleanField(required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    endpoint = serializers.IntegerField(source="endpoint_id")
    replay_of = serializers.IntegerField(
        source="replay_of_id", allow_null=True, help_text="The delivery this one replays."
    )
    outbox_event_id = serializers.IntegerField(
        allow_null=True, help_text="The event feed's event; null on a replay."
    )
    last_status_code = serializers.IntegerField(allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "endpoint", "event", "event_id", "outbox_event_id", "status", "attempts",
            "last_status_code", "last_error", "next_attempt_at", "created_at", "delivered_at",
            "replay_of", "payload",
        ]  # fmt: skip
        read_only_fields = fields


class WebhookApiView(OrganizationApiView):
    read_scope = Scope.ADMIN
    write_scope = Scope.ADMIN
    read_roles: tuple[str, ...] = (Role.ADMIN, Role.MANAGER)
    write_roles: tuple[str, ...] = (Role.ADMIN,)
    pagination_class: type[KeysetPagination] | None = KeysetPagination
    queryset = WebhookEndpoint.objects.none()

    def endpoint_or_404(self, endpoint_id: int) -> WebhookEndpoint:
        endpoint = WebhookEndpoint.objects.filter(
            organization_id=self.organization_id, pk=endpoint_id
        ).first()
        if endpoint is None:
            raise Http404("No such webhook endpoint.")
        return endpoint

    def delivery_or_404(self, delivery_id: int) -> WebhookDelivery:
        try:
            return webhook_delivery_get(
                organization_id=self.organization_id, delivery_id=delivery_id
            )
        except WebhookDelivery.DoesNotExist as exc:
            raise Http404("No such webhook delivery.") from exc


def endpoint_location(endpoint_id: int) -> str:
    return reverse("deliveries-api:webhook_endpoint_detail", kwargs={"endpoint_id": endpoint_id})


class WebhookEndpointListCreateApi(WebhookApiView):
    serializer_class = WebhookEndpointSerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = WebhookEndpointFilterSet
    shown_once = ("secret",)

    @extend_schema(
        operation_id="webhooks_endpoints_list",
        summary="List webhook endpoints",
        responses=WebhookEndpointSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        endpoints = WebhookEndpoint.objects.filter(organization_id=self.organization_id)
        page = self.paginate_queryset(self.filter_queryset(endpoints))
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_endpoints_create",
        summary="Subscribe a webhook endpoint",
        description="The endpoint receives a signed POST for each event it names "
        "(docs/webhooks.md). Its signing secret is answered here; keep it to check the "
        "`Doorstep-Signature` header. An address that is not public is refused at each "
        "attempt (logged as the delivery's error), not here.",
        request=WebhookEndpointInputSerializer,
        responses={201: OpenApiResponse(WebhookEndpointCreatedSerializer, description="Created")},
    )
    def post(self, request: Request) -> Response:
        data = WebhookEndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_create(
            organization_id=self.organization_id, **data.validated_data
        )
        # WebhookEndpointCreatedSerializer's shape.
        body = {**WebhookEndpointSerializer(endpoint).data, "secret": endpoint.secret}
        return Response(
            body,
            status=status.HTTP_201_CREATED,
            headers={"Location": endpoint_location(endpoint.pk)},
        )


class WebhookEndpointDetailApi(WebhookApiView):
    serializer_class = WebhookEndpointSerializer
    pagination_class = None

    @extend_schema(operation_id="webhooks_endpoints_retrieve", summary="Read a webhook endpoint")
    def get(self, request: Request, endpoint_id: int) -> Response:
        return Response(WebhookEndpointSerializer(self.endpoint_or_404(endpoint_id)).data)

    @extend_schema(
        operation_id="webhooks_endpoints_partial_update",
        summary="Change a webhook endpoint",
        description="Its name, URL, events or `active` (false stops its deliveries); members "
        "not given keep their values. The secret is rotated in Django admin.",
        request=WebhookEndpointUpdateInputSerializer,
        responses={200: WebhookEndpointSerializer},
    )
    def patch(self, request: Request, endpoint_id: int) -> Response:
        data = WebhookEndpointUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.endpoint_or_404(endpoint_id)
        endpoint = services.webhook_endpoint_update(
            organization_id=self.organization_id,
            endpoint_id=endpoint_id,
            changes=dict(data.validated_data),
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="webhooks_endpoints_destroy",
        summary="Delete a webhook endpoint",
        description="Stops every delivery to it, the retries due included, and deletes it "
        "with its delivery log. To stop it and keep the log, PATCH `active: false` instead.",
        request=None,
        responses={204: OpenApiResponse(description="Deleted, with its deliveries")},
    )
    def delete(self, request: Request, endpoint_id: int) -> Response:
        self.endpoint_or_404(endpoint_id)
        services.webhook_endpoint_delete(
            organization_id=self.organization_id, endpoint_id=endpoint_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListApi(WebhookApiView):
    serializer_class = WebhookDeliverySerializer
    pagination_class = NewestFirstPagination
    filter_backends = [StrictFilterBackend]
    filterset_class = WebhookDeliveryFilterSet
    queryset = WebhookDelivery.objects.none()

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        summary="The webhook delivery log",
        description="Every delivery (and replay) with its attempts, newest first; filter by "
        "`endpoint`, `status` or `event`.",
        responses=WebhookDeliverySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        deliveries = webhook_delivery_list(organization_id=self.organization_id)
        page = self.paginate_queryset(self.filter_queryset(deliveries))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookDeliveryDetailApi(WebhookApiView):
    serializer_class = WebhookDeliverySerializer
    pagination_class = None
    queryset = WebhookDelivery.objects.none()

    @extend_schema(operation_id="webhooks_deliveries_retrieve", summary="Read a delivery")
    def get(self, request: Request, delivery_id: int) -> Response:
        return Response(WebhookDeliverySerializer(self.delivery_or_404(delivery_id)).data)


class WebhookDeliveryReplayApi(WebhookApiView):
    serializer_class = EmptyInputSerializer
    pagination_class = None
    write_roles = (Role.ADMIN, Role.MANAGER)
    queryset = WebhookDelivery.objects.none()

    @extend_schema(
        operation_id="webhooks_deliveries_replay",
        summary="Send a delivery again",
        description="Queues the delivery's payload again as a new delivery (a new `event_id`, "
        "`replay_of` naming the original), answered with its `Location`. 409 when the "
        "endpoint is inactive.",
        request=EmptyInputSerializer,
        responses={
            201: OpenApiResponse(WebhookDeliverySerializer, description="Queued"),
            409: OpenApiResponse(description="The endpoint is inactive"),
        },
    )
    def post(self, request: Request, delivery_id: int) -> Response:
        EmptyInputSerializer(data=request.data).is_valid(raise_exception=True)
        self.delivery_or_404(delivery_id)
        try:
            replay = services.webhook_delivery_replay(
                organization_id=self.organization_id, delivery_id=delivery_id
            )
        except DjangoValidationError as exc:
            # The endpoint's state refuses it, not the request: a conflict.
            raise Conflict(" ".join(exc.messages)) from exc
        replay = self.delivery_or_404(replay.pk)
        location = reverse(
            "deliveries-api:webhook_delivery_detail", kwargs={"delivery_id": replay.pk}
        )
        return Response(
            WebhookDeliverySerializer(replay).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )
