"""The orders REST API: each view translates HTTP into one selector or service call."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tenancy.api.errors import validation_errors
from tenancy.api.filters import StrictFilterBackend
from tenancy.api.models import Scope
from tenancy.api.pagination import KeysetPagination
from tenancy.api.views import OrganizationApiView
from tenancy.errors import Conflict

from ..filtersets import OrderFilterSet
from ..models import DeliveryEvent, Order
from ..selectors import orders as selectors
from ..services import orders as services
from ..services import routes as route_services
from ..services.order_batch import OrderBatchResult, orders_create_batch
from .batch_input import batch_items_plain, order_item_fast
from .serializers import (
    DeliveryEventOutputSerializer,
    OrderBatchInputSerializer,
    OrderBatchOutputSerializer,
    OrderCancelInputSerializer,
    OrderInputSerializer,
    OrderOutputSerializer,
    OrderTransitionInputSerializer,
    OrderUpdateInputSerializer,
)

BATCH_STATUS = {"created": 201, "invalid": 400, "duplicate": 409}


class OrderPagination(KeysetPagination):
    """Orders in id order (creation order): a page never shifts when orders are added."""

    ordering = ("id",)


# The output serializer documents the order's shape (the schema) and answers lists; one order's
# answer is written out below. Its fields depend neither on the order nor on the request.
_ORDER_OUTPUT = OrderOutputSerializer()
# DRF's own conversions where they do more than a cast: a date-time in the current time zone
# as ISO 8601 with "Z" for UTC; the priority as its choice's value.
_DATETIME = _ORDER_OUTPUT.fields["created_at"]
_PRIORITY = _ORDER_OUTPUT.fields["priority"]


def _when(value: Any) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def order_output(order: Order) -> dict[str, Any]:
    """OrderOutputSerializer's answer for one order, field by field in its order: DRF's generic
    walk over the fields was a tenth of an order detail's CPU (docs/benchmarks.md, "API load").
    tests/deliveries/api/test_order_output.py holds it to the serializer, byte for byte."""
    latitude, longitude = order.latitude, order.longitude
    return {
        "id": int(order.pk),
        "reference": str(order.reference),
        "tracking_code": str(order.tracking_code),
        "customer_name": str(order.customer_name),
        "phone": str(order.phone),
        "email": str(order.email) if order.email else None,
        "address": str(order.address),
        "latitude": None if latitude is None else float(latitude),
        "longitude": None if longitude is None else float(longitude),
        "window_start": _when(order.window_start),
        "window_end": _when(order.window_end),
        "service_minutes": int(order.service_minutes),
        "priority": _PRIORITY.to_representation(order.priority),
        "weight_kg": float(order.weight_kg),
        "volume_l": float(order.volume_l),
        "notes": str(order.notes),
        "status": str(order.status),
        "needs_coordinates": bool(order.needs_coordinates),
        "hub": order.hub_id,
        "hub_name": str(order.hub.name),
        "created_at": _when(order.created_at),
        "updated_at": _when(order.updated_at),
    }


def order_location(order_id: int) -> str:
    return reverse("deliveries-api:order_detail", kwargs={"order_id": order_id})


class DeliveriesApiView(OrganizationApiView):
    """The orders API's views: paginated, and the order lookup every endpoint shares."""

    pagination_class: type[KeysetPagination] | None = OrderPagination
    write_scope = Scope.ORDERS

    @property
    def source(self) -> str:
        return DeliveryEvent.Source.API if self.by_token else DeliveryEvent.Source.CONSOLE

    def order_found(self, **handle: str) -> Order:
        """The order with this reference or tracking code, or 404."""
        try:
            return selectors.order_find(
                organization_id=self.organization_id, hub_ids=self.hub_ids, **handle
            )
        except Order.DoesNotExist as exc:
            raise Http404("No such order.") from exc

    def order_or_404(self, order_id: int) -> Order:
        try:
            return selectors.order_get(
                organization_id=self.organization_id, order_id=order_id, hub_ids=self.hub_ids
            )
        except Order.DoesNotExist as exc:
            raise Http404("No such order.") from exc


class OrderListCreateApi(DeliveriesApiView):
    filter_backends = [StrictFilterBackend]
    filterset_class = OrderFilterSet
    serializer_class = OrderOutputSerializer

    def get_queryset(self) -> QuerySet[Order]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no organization
            return Order.objects.none()
        return selectors.order_list(organization_id=self.organization_id, hub_ids=self.hub_ids)

    @extend_schema(
        operation_id="orders_list",
        summary="List orders",
        description=(
            "Your organization's orders in creation order, a page at a time (follow `next`). "
            "Filters combine; `updated_since` returns the orders changed at or after a time, "
            "to sync without re-reading everything."
        ),
        responses=OrderOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        orders = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(orders)
        return self.get_paginated_response(OrderOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="orders_create",
        summary="Create an order",
        description=(
            "Creates one order at a hub and answers it with its tracking code, 201 and its "
            "`Location`. A reference your organization already has is a 409 whose body names "
            "the existing order (`id`, `location`); send an `Idempotency-Key` to retry safely."
        ),
        request=OrderInputSerializer,
        responses={
            201: OpenApiResponse(OrderOutputSerializer, description="Created"),
            409: OpenApiResponse(description="The reference exists: `id` and `location` name it"),
        },
    )
    def post(self, request: Request) -> Response:
        data = OrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        hub_id = fields.pop("hub")
        if self.hub_ids and hub_id not in self.hub_ids:
            raise ValidationError({"hub": ["No such hub in this organization."]})
        self.refuse_existing_reference(fields["reference"])
        # A refusal (ValidationError, domain error) answers through tenancy/api/errors.py.
        order = services.order_create(
            organization_id=self.organization_id,
            hub_id=hub_id,
            actor=self.actor,
            source=self.source,
            **fields,
        )
        order = self.order_or_404(order.pk)
        return Response(
            order_output(order),
            status=status.HTTP_201_CREATED,
            headers={"Location": order_location(order.pk)},
        )

    def refuse_existing_reference(self, reference: str) -> None:
        existing = (
            selectors.order_list(organization_id=self.organization_id)
            .filter(reference=reference.strip())
            .values_list("pk", flat=True)
            .first()
        )
        if existing is not None:
            raise Conflict(
                f"An order with reference {reference.strip()!r} exists.",
                extra={"id": existing, "location": order_location(existing)},
            )


class OrderDetailApi(DeliveriesApiView):
    serializer_class = OrderOutputSerializer

    @extend_schema(
        operation_id="orders_retrieve",
        summary="Read an order",
        description="One order with its status. Send the ETag back as `If-None-Match`: 304 "
        "while it has not changed.",
    )
    def get(self, request: Request, order_id: int) -> Response:
        return Response(order_output(self.order_or_404(order_id)))

    @extend_schema(
        operation_id="orders_partial_update",
        summary="Change an order",
        description="Change some of an order's data; fields not given keep their values. "
        "Allowed while the order is created, assigned or failed (409 once it is out for "
        "delivery or finished). The hub changes only while the order is on no route. A new "
        "position or window refreshes the ETAs of its route. Unknown or read-only fields are "
        "refused (400), not ignored.",
        request=OrderUpdateInputSerializer,
        responses={
            200: OrderOutputSerializer,
            400: OpenApiResponse(description="Invalid input"),
            404: OpenApiResponse(description="No such order"),
            409: OpenApiResponse(description="The order's status does not allow it"),
        },
    )
    def patch(self, request: Request, order_id: int) -> Response:
        data = OrderUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "hub" in changes and self.hub_ids and changes["hub"] not in self.hub_ids:
            raise ValidationError({"hub": ["No such hub in this organization."]})
        self.order_or_404(order_id)  # hub-scoped users only change orders of their hubs
        services.order_update(
            organization_id=self.organization_id,
            order_id=order_id,
            changes=changes,
            actor=self.actor,
            source=self.source,
        )
        return Response(order_output(self.order_or_404(order_id)))


class OrderCancelApi(DeliveriesApiView):
    serializer_class = OrderCancelInputSerializer

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel an order",
        description="Cancel the order. An order still waiting on a route is taken off it first "
        "(its stop removed, the route renumbered). 409 for an order that is delivered, "
        "returned or already cancelled.",
        request=OrderCancelInputSerializer,
        responses={
            200: OrderOutputSerializer,
            400: OpenApiResponse(description="Invalid input"),
            404: OpenApiResponse(description="No such order"),
            409: OpenApiResponse(description="The order's status does not allow it"),
        },
    )
    def post(self, request: Request, order_id: int) -> Response:
        data = OrderCancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        self.order_or_404(order_id)
        route_services.order_cancel(
            organization_id=self.organization_id,
            order_id=order_id,
            actor=self.actor,
            source=self.source,
            note=data.validated_data["note"],
        )
        return Response(order_output(self.order_or_404(order_id)))


class OrderBatchCreateApi(DeliveriesApiView):
    serializer_class = OrderBatchInputSerializer
    pagination_class = None

    @extend_schema(
        operation_id="orders_batch_create",
        summary="Create up to 1,000 orders",
        description="Create up to 1,000 orders in one call. Each item is judged on its own and "
        "one bad item never fails its neighbours: the answer is 207 Multi-Status with one "
        "result per item, in the order sent, each with its own `status` (201 created, 400 "
        "invalid with `errors` shaped like a single create's, 409 when the reference exists "
        "already, with the existing order's `existing_id` and `location`). A reference given "
        "twice in one batch is created once; the later item is a 400.",
        request=OrderBatchInputSerializer,
        responses={
            207: OrderBatchOutputSerializer,
            400: OpenApiResponse(description="Not a list of 1 to 1,000 objects"),
        },
    )
    def post(self, request: Request) -> Response:
        items = batch_items_plain(request.data)
        if items is None:
            body = OrderBatchInputSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            items = body.validated_data["orders"]
        results: dict[int, dict[str, Any]] = {}
        valid: list[tuple[int, dict[str, Any]]] = []
        # One item serializer for all items: building one per item copies its fields each time.
        item_fields = OrderInputSerializer()
        for index, item in enumerate(items):
            fields = order_item_fast(item)
            if fields is not None:
                valid.append((index, fields))
                continue
            try:
                valid.append((index, dict(item_fields.run_validation(item))))
            except ValidationError as exc:
                errors = validation_errors(exc.detail)
                results[index] = {"index": index, "status": 400, "errors": errors}
        outcomes = orders_create_batch(
            organization_id=self.organization_id,
            items=valid,
            actor=self.actor,
            source=self.source,
            hub_ids=self.hub_ids,
        )
        # One reverse() for all the locations: the detail URL differs only by the id.
        location = order_location(0)[:-2] + "{}/"
        for outcome in outcomes:
            results[outcome.index] = batch_item(outcome, location)
        ordered = [results[index] for index in sorted(results)]
        created = sum(1 for item in ordered if item["status"] == 201)
        return Response(
            {"created": created, "failed": len(ordered) - created, "results": ordered},
            status=status.HTTP_207_MULTI_STATUS,
        )


def batch_item(outcome: OrderBatchResult, location: str) -> dict[str, Any]:
    item: dict[str, Any] = {"index": outcome.index, "status": BATCH_STATUS[outcome.outcome]}
    if outcome.order is not None:
        order = outcome.order
        item.update(
            id=order.id,
            reference=order.reference,
            tracking_code=order.tracking_code,
            location=location.format(order.id),
        )
    else:
        item["errors"] = validation_errors(outcome.errors)
        if outcome.existing_id is not None:
            item.update(
                existing_id=outcome.existing_id, location=location.format(outcome.existing_id)
            )
    return item


class OrderByReferenceApi(DeliveriesApiView):
    serializer_class = OrderOutputSerializer
    pagination_class = None

    @extend_schema(
        operation_id="orders_by_reference",
        summary="Find an order by its reference",
        description="The order with exactly this reference (a slash in it is fine). 404 when "
        "the organization has none.",
        responses={200: OrderOutputSerializer, 404: OpenApiResponse(description="No such order")},
    )
    def get(self, request: Request, reference: str) -> Response:
        return Response(order_output(self.order_found(reference=reference)))


class OrderByTrackingCodeApi(DeliveriesApiView):
    serializer_class = OrderOutputSerializer
    pagination_class = None

    @extend_schema(
        operation_id="orders_by_tracking_code",
        summary="Find an order by its tracking code",
        description="The order with this tracking code (the customer's link). 404 when the "
        "organization has none, also when another organization's order has it.",
        responses={200: OrderOutputSerializer, 404: OpenApiResponse(description="No such order")},
    )
    def get(self, request: Request, tracking_code: str) -> Response:
        return Response(order_output(self.order_found(tracking_code=tracking_code)))


class OrderTransitionApi(DeliveriesApiView):
    serializer_class = OrderTransitionInputSerializer

    @extend_schema(
        operation_id="orders_transition",
        summary="Move an order to another status",
        description=(
            "Applies one status change (e.g. failed with a `reason_code`), the same rules as "
            "the console's; a change the order's status does not allow is a 409 naming it."
        ),
        request=OrderTransitionInputSerializer,
        responses={
            200: OrderOutputSerializer,
            409: OpenApiResponse(description="The order's status does not allow this change"),
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
        return Response(order_output(self.order_or_404(order_id)))


class EventPagination(KeysetPagination):
    ordering = ("id",)


class OrderEventListApi(DeliveriesApiView):
    serializer_class = DeliveryEventOutputSerializer
    pagination_class = EventPagination
    # For the schema generator only (path parameter types); the view reads through a selector.
    queryset = DeliveryEvent.objects.none()

    @extend_schema(
        operation_id="orders_events_list",
        summary="An order's timeline",
        description="Every status change of the order, oldest first, a page at a time.",
        responses=DeliveryEventOutputSerializer(many=True),
    )
    def get(self, request: Request, order_id: int) -> Response:
        order = self.order_or_404(order_id)
        events = selectors.order_event_list(organization_id=self.organization_id, order_id=order.pk)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(DeliveryEventOutputSerializer(page, many=True).data)
