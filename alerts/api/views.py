"""The alerts REST API: each view translates HTTP into one selector or action call. Answers are
`alert_snapshot` dicts, the shape the outbox events and webhooks already carry."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from tenancy.api.errors import InvalidQuery
from tenancy.api.models import ApiToken, Scope
from tenancy.api.pagination import StrictLimitOffsetPagination
from tenancy.api.views import OrganizationApiView
from tenancy.errors import PermissionDenied

from .. import selectors
from ..models import Alert
from ..services import actions
from ..services.actions import alert_snapshot
from .serializers import (
    AlertActionInputSerializer,
    AlertAssignInputSerializer,
    AlertDetailSerializer,
    AlertErrorSerializer,
    AlertListQuerySerializer,
    AlertNoteInputSerializer,
    AlertOutputSerializer,
    AlertSnoozeInputSerializer,
)


def alert_answer(alert: Alert) -> dict[str, Any]:
    """The alert as the API answers it: its snapshot (the outbox payload) and when it last
    changed (what `updated_since` compares; not in the payload, whose event says when)."""
    return {**alert_snapshot(alert), "updated_at": alert.updated_at}


class AlertPagination(StrictLimitOffsetPagination):
    max_limit = 500


class AlertsApiView(OrganizationApiView):
    """The alerts API's views: the alert lookup every endpoint shares."""

    pagination_class: type[AlertPagination] | None = AlertPagination
    # For the schema generator only (path parameter types); the views read through selectors.
    queryset = Alert.objects.none()

    @property
    def scope_hub_ids(self) -> list[int]:
        return self.hub_ids or []

    def alert_or_404(self, alert_id: int) -> Alert:
        try:
            return selectors.alert_get(
                organization_id=self.organization_id,
                alert_id=alert_id,
                hub_ids=self.scope_hub_ids,
            )
        except Alert.DoesNotExist as exc:
            raise Http404("No such alert.") from exc

    def detail(self, alert: Alert) -> dict[str, Any]:
        timeline = selectors.alert_timeline(organization_id=self.organization_id, alert=alert)
        return AlertDetailSerializer({**alert_answer(alert), "timeline": timeline}).data


class AlertListApi(AlertsApiView):
    serializer_class = AlertOutputSerializer

    @extend_schema(
        operation_id="alerts_list",
        summary="List alerts",
        parameters=[AlertListQuerySerializer],
        responses={
            200: AlertOutputSerializer(many=True),
            400: OpenApiResponse(description="Invalid filter"),
        },
    )
    def get(self, request: Request) -> Response:
        query = AlertListQuerySerializer(data=request.query_params)
        if not query.is_valid():
            raise InvalidQuery(query.errors)
        data = query.validated_data
        filters = selectors.AlertFilters(
            status=data["status"],
            severities=tuple(data.get("severity", ())),
            kinds=tuple(data.get("kind", ())),
            hub_ids=tuple(data.get("hub", ())),
            vehicle_ids=tuple(data.get("vehicle", ())),
            opened_after=data.get("opened_after"),
            opened_before=data.get("opened_before"),
            updated_since=data.get("updated_since"),
        )
        alerts = selectors.alert_list(
            organization_id=self.organization_id, hub_ids=self.scope_hub_ids, filters=filters
        )
        page = self.paginate_queryset(alerts) or []
        results = AlertOutputSerializer([alert_answer(alert) for alert in page], many=True)
        return self.get_paginated_response(results.data)


class AlertDetailApi(AlertsApiView):
    serializer_class = AlertDetailSerializer

    @extend_schema(
        operation_id="alerts_retrieve", summary="Read an alert", responses=AlertDetailSerializer
    )
    def get(self, request: Request, alert_id: int) -> Response:
        return Response(self.detail(self.alert_or_404(alert_id)))


class AlertActionApi(AlertsApiView):
    """POST: an action on the alert, by a console user or by an API token with the `alerts`
    scope (the timeline names "API token <name>"). Bad input is 400 (before the alert is looked
    at), a foreign alert 404, an action its state does not allow 409."""

    serializer_class: type[serializers.Serializer] = AlertActionInputSerializer
    write_scope = Scope.ALERTS

    def perform(self, data: dict[str, Any], **common: Any) -> Alert:
        raise NotImplementedError

    def acting(self) -> actions.Actor:
        token = self.request.auth
        if isinstance(token, ApiToken):
            return token
        actor = self.actor
        if actor is None:  # authentication makes this unreachable; refuse rather than guess
            raise PermissionDenied("Sign in or send an API token.")
        return actor

    def post(self, request: Request, alert_id: int) -> Response:
        data = self.serializer_class(data=request.data)
        data.is_valid(raise_exception=True)
        self.alert_or_404(alert_id)  # foreign or another hub's: 404 before anything else
        # AlertActionError is a Conflict: 409 with its code, from the one error mapping.
        self.perform(
            data.validated_data,
            organization_id=self.organization_id,
            alert_id=alert_id,
            actor=self.acting(),
            hub_ids=self.scope_hub_ids,
        )
        return Response(self.detail(self.alert_or_404(alert_id)))


def action_schema(operation_id: str, request: type[serializers.Serializer], summary: str) -> Any:
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        request=request,
        responses={
            200: AlertDetailSerializer,
            400: OpenApiResponse(description="Invalid input"),
            403: OpenApiResponse(
                description="A token without the alerts scope, or a console role that may not"
            ),
            404: OpenApiResponse(description="No such alert"),
            409: AlertErrorSerializer,
        },
    )


class AlertAcknowledgeApi(AlertActionApi):
    def perform(self, data: dict[str, Any], **common: Any) -> Alert:
        return actions.alert_acknowledge(note=data["note"], **common)

    @action_schema("alerts_acknowledge", AlertActionInputSerializer, "Acknowledge an alert")
    def post(self, request: Request, alert_id: int) -> Response:
        return super().post(request, alert_id)


class AlertResolveApi(AlertActionApi):
    def perform(self, data: dict[str, Any], **common: Any) -> Alert:
        return actions.alert_resolve(note=data["note"], **common)

    @action_schema("alerts_resolve", AlertActionInputSerializer, "Resolve an alert")
    def post(self, request: Request, alert_id: int) -> Response:
        return super().post(request, alert_id)


class AlertAssignApi(AlertActionApi):
    """POST {"assignee_id": id | null}: give the alert to a console user (null: unassign)."""

    serializer_class = AlertAssignInputSerializer

    def perform(self, data: dict[str, Any], **common: Any) -> Alert:
        try:
            return actions.alert_assign(assignee_id=data["assignee_id"], **common)
        except actions.AlertActionError as error:
            if error.code == "bad_assignee":  # the input named someone who cannot take it
                raise serializers.ValidationError({"assignee_id": [error.message]}) from error
            raise

    @action_schema("alerts_assign", AlertAssignInputSerializer, "Assign an alert")
    def post(self, request: Request, alert_id: int) -> Response:
        return super().post(request, alert_id)


class AlertSnoozeApi(AlertActionApi):
    """POST {"minutes": 30} or {"until": "...+01:00"}; {"until": null} wakes it now."""

    serializer_class = AlertSnoozeInputSerializer

    def perform(self, data: dict[str, Any], **common: Any) -> Alert:
        return actions.alert_snooze(until=data["until"], **common)

    @action_schema("alerts_snooze", AlertSnoozeInputSerializer, "Snooze an alert")
    def post(self, request: Request, alert_id: int) -> Response:
        return super().post(request, alert_id)


class AlertNoteApi(AlertActionApi):
    """POST {"note": "..."}: a line on the timeline (resolved alerts too)."""

    serializer_class = AlertNoteInputSerializer

    def perform(self, data: dict[str, Any], **common: Any) -> Alert:
        return actions.alert_note_add(note=data["note"], **common)

    @action_schema("alerts_note", AlertNoteInputSerializer, "Add a note to an alert")
    def post(self, request: Request, alert_id: int) -> Response:
        return super().post(request, alert_id)
