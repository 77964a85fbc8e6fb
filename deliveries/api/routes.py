"""The routes REST API: routes and their stops. Each view translates HTTP into one call of the
route selectors or services the console's route editor uses (deliveries/services/routes.py),
with the same plan-version check: a plan change names the `plan_version` it was based on and
is a 409 when the route changed meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from tenancy.api.filters import StrictFilterBackend
from tenancy.api.models import Scope
from tenancy.api.pagination import KeysetPagination
from tenancy.api.views import OrganizationApiView
from tenancy.permissions import PLANNER_ROLES

from ..filtersets import RouteFilterSet
from ..models import DeliveryEvent, Order, Route, Stop
from ..selectors import routes as selectors
from ..services import routes as services
from .route_serializers import (
    PlanVersionInputSerializer,
    RouteCreateInputSerializer,
    RouteDetailOutputSerializer,
    RouteOutputSerializer,
    RouteUpdateInputSerializer,
    StopAddInputSerializer,
    StopMoveInputSerializer,
    StopOutputSerializer,
    StopsReorderInputSerializer,
)

NOT_FOUND = OpenApiResponse(description="No such route (or stop) in your organization")
STALE = OpenApiResponse(
    description="The route changed since `plan_version` (the problem's `plan_version` is the "
    "current one: reload the route), or it is completed, or the stop was visited."
)


def plan_change_responses(refused: str, *, created: bool = False) -> dict[int, Any]:
    """The answers of a plan change: the route as it is now, or why not."""
    done = 201 if created else 200
    return {
        done: OpenApiResponse(RouteDetailOutputSerializer, description="The route now"),
        400: OpenApiResponse(description=refused),
        404: NOT_FOUND,
        409: STALE,
    }


class RoutePagination(KeysetPagination):
    """Routes in id order (creation order): a page never shifts when routes are added."""

    ordering = ("id",)


def route_location(route_id: int) -> str:
    return reverse("deliveries-api:route_detail", kwargs={"route_id": route_id})


def stop_location(route_id: int, stop_id: int) -> str:
    return reverse(
        "deliveries-api:route_stop_detail", kwargs={"route_id": route_id, "stop_id": stop_id}
    )


class RoutesApiView(OrganizationApiView):
    """The routes API's views: the route lookup (hub scope included) and the answer of every
    plan change (the route as it is now, with its new `plan_version`)."""

    pagination_class: type[KeysetPagination] | None = RoutePagination
    write_scope = Scope.ORDERS
    # A console member plans as in the route editor; any console role reads.
    write_roles = PLANNER_ROLES
    # For the schema generator only (path parameter types); the views read through selectors.
    queryset = Route.objects.none()

    @property
    def source(self) -> str:
        return DeliveryEvent.Source.API if self.by_token else DeliveryEvent.Source.CONSOLE

    def route_or_404(self, route_id: int) -> Route:
        """The route with its stop counts, if it is the client's (and of its hubs)."""
        try:
            return (
                selectors.route_list(organization_id=self.organization_id, hub_ids=self.hub_ids)
                .filter(pk=route_id)
                .get()
            )
        except Route.DoesNotExist as exc:
            raise Http404("No such route.") from exc

    def route_stops(self, route: Route) -> list[Stop]:
        return selectors.route_stop_list(organization_id=self.organization_id, route_id=route.pk)

    def route_answer(self, route_id: int, **kwargs: Any) -> Response:
        route = self.route_or_404(route_id)
        route.stop_rows = self.route_stops(route)  # type: ignore[attr-defined]
        return Response(RouteDetailOutputSerializer(route).data, **kwargs)

    def plan_change(
        self, request: Request, route_id: int, body: type[Serializer], change: Callable[..., Any]
    ) -> dict[str, Any]:
        """Validate the body, check the route is the client's, and run the service call
        `change(**body)`; what the service refuses answers through tenancy/api/errors.py."""
        data = body(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        self.route_or_404(route_id)
        try:
            change(**fields)
        except DjangoValidationError as exc:
            raise _body_error(exc, set(fields)) from exc
        return fields


def _body_error(exc: DjangoValidationError, body_fields: set[str]) -> Any:
    """A service's refusal keyed by a name the body does not have (the route's "needs a
    vehicle", the stops' "already visited") is about the request as a whole: it points at the
    body's root, not at a member the client never sent."""
    if not hasattr(exc, "error_dict"):
        return ValidationError({"non_field_errors": exc.messages})
    errors: dict[str, list[str]] = {}
    for name, messages in exc.message_dict.items():
        key = name if name in body_fields else "non_field_errors"
        errors.setdefault(key, []).extend(messages)
    return ValidationError(errors)


class RouteListCreateApi(RoutesApiView):
    filter_backends = [StrictFilterBackend]
    filterset_class = RouteFilterSet
    serializer_class = RouteOutputSerializer

    def get_queryset(self) -> QuerySet[Route]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no organization
            return Route.objects.none()
        return selectors.route_list(organization_id=self.organization_id, hub_ids=self.hub_ids)

    @extend_schema(
        operation_id="routes_list",
        summary="List routes",
        description=(
            "Your organization's routes in creation order, a page at a time (follow `next`), "
            "with their stop counts; the filters are the route console's. `updated_since` "
            "returns the routes whose plan, status, stops or ETAs changed at or after a time. "
            "Read one route for its stops."
        ),
        responses={200: RouteOutputSerializer(many=True), 400: OpenApiResponse()},
    )
    def get(self, request: Request) -> Response:
        routes = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(routes)
        return self.get_paginated_response(RouteOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="routes_create",
        summary="Create a route",
        description=(
            "A planned route of a hub for a day, without stops (add them one by one), 201 with "
            "its `Location`. A vehicle or a driver that has a route that day already, or ids "
            "that are not your organization's, are a 400 naming the field."
        ),
        request=RouteCreateInputSerializer,
        responses={
            201: OpenApiResponse(RouteDetailOutputSerializer, description="Created"),
            400: OpenApiResponse(description="Invalid input"),
        },
    )
    def post(self, request: Request) -> Response:
        data = RouteCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if self.hub_ids and fields["hub"] not in self.hub_ids:
            raise ValidationError({"hub": ["No such hub in this organization."]})
        route = services.route_create(
            organization_id=self.organization_id,
            hub_id=fields["hub"],
            date=fields["date"],
            vehicle_id=fields.get("vehicle"),
            driver_id=fields.get("driver"),
        )
        return self.route_answer(
            route.pk, status=status.HTTP_201_CREATED, headers={"Location": route_location(route.pk)}
        )


class RouteDetailApi(RoutesApiView):
    serializer_class = RouteDetailOutputSerializer

    @extend_schema(
        operation_id="routes_retrieve",
        summary="Read a route",
        description="One route with its stops in visiting order, each with its ETA and late "
        "risk, and the `plan_version` a plan change must name. Send the ETag back as "
        "`If-None-Match`: 304 while nothing changed.",
        responses={200: RouteDetailOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, route_id: int) -> Response:
        return self.route_answer(route_id)

    @extend_schema(
        operation_id="routes_partial_update",
        summary="Change a route's vehicle or driver",
        description="Gives a planned route another vehicle or driver (null: none yet), with "
        "the rules of a new route: yours, and without another route that day (a 400 naming "
        "the field). A change is a plan change: the `plan_version` moves and the ETAs are "
        "recomputed from the new vehicle; the same crew again changes nothing. 409 once the "
        "route is dispatched, or when its plan changed since `plan_version`.",
        request=RouteUpdateInputSerializer,
        responses=plan_change_responses("Not your vehicle or driver, taken that day, or invalid"),
    )
    def patch(self, request: Request, route_id: int) -> Response:
        def change(plan_version: int, **crew: int | None) -> None:
            services.route_crew_change(
                organization_id=self.organization_id,
                route_id=route_id,
                changes=crew,
                plan_version=plan_version,
            )

        self.plan_change(request, route_id, RouteUpdateInputSerializer, change)
        return self.route_answer(route_id)


class RouteDispatchApi(RoutesApiView):
    serializer_class = PlanVersionInputSerializer

    @extend_schema(
        operation_id="routes_dispatch",
        summary="Dispatch a route",
        description="Hands the planned route to its driver: its orders go out for delivery. "
        "400 when the route has no vehicle, no driver or no stops; 409 when it is not planned "
        "any more or its plan changed since `plan_version`.",
        request=PlanVersionInputSerializer,
        responses=plan_change_responses("No vehicle, driver or stops; or invalid input"),
    )
    def post(self, request: Request, route_id: int) -> Response:
        self.plan_change(
            request,
            route_id,
            PlanVersionInputSerializer,
            lambda plan_version: services.route_dispatch(
                organization_id=self.organization_id,
                route_id=route_id,
                actor=self.actor,
                plan_version=plan_version,
                source=self.source,
            ),
        )
        return self.route_answer(route_id)


class RouteStopAddApi(RoutesApiView):
    serializer_class = StopAddInputSerializer

    @extend_schema(
        operation_id="routes_stops_create",
        summary="Add a stop",
        description="Appends the order to the route as its last stop and assigns it (out for "
        "delivery at once on a dispatched route). Answers the route, 201, and the new stop's "
        "`Location`. 400 when the order is not your organization's, of another hub, without "
        "coordinates, finished or on another open route.",
        request=StopAddInputSerializer,
        responses=plan_change_responses("The order cannot go on this route", created=True),
    )
    def post(self, request: Request, route_id: int) -> Response:
        added: list[Stop] = []

        def add(order: int, plan_version: int) -> None:
            try:
                added.append(
                    services.stop_add(
                        organization_id=self.organization_id,
                        route_id=route_id,
                        order_id=order,
                        actor=self.actor,
                        plan_version=plan_version,
                        source=self.source,
                    )
                )
            except Order.DoesNotExist as exc:
                raise ValidationError({"order": ["No such order in this organization."]}) from exc

        self.plan_change(request, route_id, StopAddInputSerializer, add)
        return self.route_answer(
            route_id,
            status=status.HTTP_201_CREATED,
            headers={"Location": stop_location(route_id, added[0].pk)},
        )


class RouteStopDetailApi(RoutesApiView):
    serializer_class = StopOutputSerializer
    pagination_class = None

    @extend_schema(
        operation_id="routes_stops_retrieve",
        summary="Read a stop",
        description="One stop of the route with its ETA and late risk.",
        responses={200: StopOutputSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, route_id: int, stop_id: int) -> Response:
        route = self.route_or_404(route_id)
        for stop in self.route_stops(route):
            if stop.pk == stop_id:
                return Response(StopOutputSerializer(stop).data)
        raise Http404("No such stop on this route.")


class RouteStopMoveApi(RoutesApiView):
    serializer_class = StopMoveInputSerializer

    @extend_schema(
        operation_id="routes_stops_move",
        summary="Move a stop",
        description="Puts the stop at place `sequence`; the stops in between shift by one and "
        "the route stays numbered 1 to n. 400 for a place out of range or a visited stop.",
        request=StopMoveInputSerializer,
        responses=plan_change_responses("Out of range, a visited stop, or invalid input"),
    )
    def post(self, request: Request, route_id: int, stop_id: int) -> Response:
        self.plan_change(
            request,
            route_id,
            StopMoveInputSerializer,
            lambda sequence, plan_version: services.stop_move_to(
                organization_id=self.organization_id,
                route_id=route_id,
                stop_id=stop_id,
                sequence=sequence,
                plan_version=plan_version,
            ),
        )
        return self.route_answer(route_id)


class RouteStopsReorderApi(RoutesApiView):
    serializer_class = StopsReorderInputSerializer

    @extend_schema(
        operation_id="routes_stops_reorder",
        summary="Reorder a route's stops",
        description="Puts the whole route in a new visiting order in one change (what a "
        "planner or an optimizer proposes): `stops` names every stop of the route once, the "
        "visited ones first in their order. The stops are numbered 1 to n in that order; "
        "the same order again changes nothing (the `plan_version` stays).",
        request=StopsReorderInputSerializer,
        responses={
            **plan_change_responses("A visited stop moved, or invalid input"),
            422: OpenApiResponse(
                description="`stops` is not exactly the route's stops, each once (the "
                "problem's `stop_ids` are the route's stops in their order now); or the "
                "Idempotency-Key was used with another body."
            ),
        },
    )
    def post(self, request: Request, route_id: int) -> Response:
        self.plan_change(
            request,
            route_id,
            StopsReorderInputSerializer,
            lambda stops, plan_version: services.stops_reorder(
                organization_id=self.organization_id,
                route_id=route_id,
                stop_ids=stops,
                plan_version=plan_version,
            ),
        )
        return self.route_answer(route_id)


class RouteStopRemoveApi(RoutesApiView):
    serializer_class = PlanVersionInputSerializer

    @extend_schema(
        operation_id="routes_stops_remove",
        summary="Remove a stop",
        description="Takes a stop the vehicle has not reached off the route; the others close "
        "the gap and its order waits to be planned again (status created). 409 for a visited "
        "stop.",
        request=PlanVersionInputSerializer,
        responses=plan_change_responses("Invalid input"),
    )
    def post(self, request: Request, route_id: int, stop_id: int) -> Response:
        self.plan_change(
            request,
            route_id,
            PlanVersionInputSerializer,
            lambda plan_version: services.stop_remove(
                organization_id=self.organization_id,
                route_id=route_id,
                stop_id=stop_id,
                actor=self.actor,
                plan_version=plan_version,
                source=self.source,
            ),
        )
        return self.route_answer(route_id)
