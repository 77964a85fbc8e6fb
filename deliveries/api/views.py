"""The orders REST API: each view translates HTTP into one selector or service call."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from tenancy.api.views import OrganizationApiView

from ..filtersets import OrderFilterSet
from ..models import DeliveryEvent, Order
from ..selectors import orders as selectors
from ..services import orders as services
from .serializers import (
    DeliveryEventOutputSerializer,
    ErrorSerializer,
    OrderInputSerializer,
    OrderOutputSerializer,
    OrderTransitionInputSerializer,
)


class OrderPagination(LimitOffsetPagination):
    max_limit = 500


class DeliveriesApiView(OrganizationApiView):
    """The orders API's views: paginated, and the order lookup every endpoint shares."""

    pagination_class: type[OrderPagination] | None = OrderPagination

    @property
    def source(self) -> str:
        return DeliveryEvent.Source.API if self.by_token else DeliveryEvent.Source.CONSOLE

    def order_or_404(self, order_id: int) -> Order:
        try:
            return selectors.order_get(
                organization_id=self.organization_id, order_id=order_id, hub_ids=self.hub_ids
            )
        except Order.DoesNotExist as exc:
            raise Http404("No such order.") from exc


class OrderListCreateApi(DeliveriesApiView):
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilterSet
    serializer_class = OrderOutputSerializer

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no organization
            return Order.objects.none()
        return selectors.order_list(organization_id=self.organization_id, hub_ids=self.hub_ids)

    @extend_schema(operation_id="orders_list", responses=OrderOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        orders = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(orders)
        return self.get_paginated_response(OrderOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="orders_create",
        request=OrderInputSerializer,
        responses={201: OrderOutputSerializer, 400: OpenApiResponse(description="Invalid input")},
    )
    def post(self, request: Request) -> Response:
        data = OrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        hub_id = fields.pop("hub")
        if self.hub_ids and hub_id not in self.hub_ids:
            raise ValidationError({"hub": ["No such hub in this organization."]})
        # A refusal (ValidationError, domain error) answers through tenancy/api/errors.py.
        order = services.order_create(
            organization_id=self.organization_id,
            hub_id=hub_id,
            actor=self.actor,
            source=self.source,
            **fields,
        )
        order = self.order_or_404(order.pk)
        return Response(OrderOutputSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderDetailApi(DeliveriesApiView):
    serializer_class = OrderOutputSerializer

    @extend_schema(operation_id="orders_retrieve")
    def get(self, request: Request, order_id: int) -> Response:
        return Response(OrderOutputSerializer(self.order_or_404(order_id)).data)


class OrderTransitionApi(DeliveriesApiView):
    serializer_class = OrderTransitionInputSerializer

    @extend_schema(
        operation_id="orders_transition",
        request=OrderTransitionInputSerializer,
        responses={
            200: OrderOutputSerializer,
            400: OpenApiResponse(description="Invalid input"),
            404: OpenApiResponse(description="No such order"),
            409: ErrorSerializer,
        },
    )
    def post(self, request: Request, order_id: int) -> Response:
        data = OrderTransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.order_or_404(order_id)  # hub-scoped users only move orders of their hubs
        # InvalidTransition is a Conflict: 409 with its reason, from the one error mapping.
        services.order_transition(
            organization_id=self.organization_id,
            order_id=order_id,
            actor=self.actor,
            source=self.source,
            **data.validated_data,
        )
        return Response(OrderOutputSerializer(self.order_or_404(order_id)).data)


class OrderEventListApi(DeliveriesApiView):
    serializer_class = DeliveryEventOutputSerializer
    pagination_class = None

    @extend_schema(operation_id="orders_events_list")
    def get(self, request: Request, order_id: int) -> Response:
        order = self.order_or_404(order_id)
        events = selectors.order_event_list(organization_id=self.organization_id, order_id=order.pk)
        return Response(DeliveryEventOutputSerializer(events, many=True).data)
