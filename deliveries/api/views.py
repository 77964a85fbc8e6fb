"""The orders REST API: each view translates HTTP into one selector or service call."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

from tenancy.context import tenant_context
from tenancy.selectors import membership_hub_ids

from ..filtersets import OrderFilterSet
from ..models import ApiToken, DeliveryEvent, Order
from ..selectors import orders as selectors
from ..services import orders as services
from .permissions import IsOrganizationClient
from .serializers import (
    DeliveryEventOutputSerializer,
    ErrorSerializer,
    OrderInputSerializer,
    OrderOutputSerializer,
    OrderTransitionInputSerializer,
)


class OrderPagination(LimitOffsetPagination):
    max_limit = 500


class OrganizationApiView(GenericAPIView):
    """Runs the handler inside the scope of the organization the authentication resolved.

    DRF authenticates lazily inside the view, after the middleware's scope was entered, so the
    token's organization scope starts here (right after authentication) and ends with the
    response.
    """

    permission_classes = [IsOrganizationClient]
    pagination_class: type[OrderPagination] | None = OrderPagination

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._scope = ExitStack()
        self._scope.enter_context(tenant_context(self.organization_id))

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        stack = getattr(self, "_scope", None)
        if stack is not None:
            stack.close()
        return super().finalize_response(request, response, *args, **kwargs)

    @property
    def organization_id(self) -> int:
        return int(self.request._request.organization.pk)  # type: ignore[attr-defined]

    @property
    def hub_ids(self) -> list[int] | None:
        membership = getattr(self.request._request, "membership", None)
        return membership_hub_ids(membership=membership) or None if membership else None

    @property
    def actor(self) -> AbstractBaseUser | None:
        user = self.request.user
        return user if isinstance(user, AbstractBaseUser) else None

    @property
    def source(self) -> str:
        api = isinstance(self.request.auth, ApiToken)
        return DeliveryEvent.Source.API if api else DeliveryEvent.Source.CONSOLE

    def order_or_404(self, order_id: int) -> Order:
        try:
            return selectors.order_get(
                organization_id=self.organization_id, order_id=order_id, hub_ids=self.hub_ids
            )
        except Order.DoesNotExist as exc:
            raise Http404("No such order.") from exc


class OrderListCreateApi(OrganizationApiView):
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


class OrderDetailApi(OrganizationApiView):
    serializer_class = OrderOutputSerializer

    @extend_schema(operation_id="orders_retrieve")
    def get(self, request: Request, order_id: int) -> Response:
        return Response(OrderOutputSerializer(self.order_or_404(order_id)).data)


class OrderTransitionApi(OrganizationApiView):
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


class OrderEventListApi(OrganizationApiView):
    serializer_class = DeliveryEventOutputSerializer
    pagination_class = None

    @extend_schema(operation_id="orders_events_list")
    def get(self, request: Request, order_id: int) -> Response:
        order = self.order_or_404(order_id)
        events = selectors.order_event_list(organization_id=self.organization_id, order_id=order.pk)
        return Response(DeliveryEventOutputSerializer(events, many=True).data)
