"""The reports REST API: GET /api/v1/reports/ lists the kinds, GET /api/v1/reports/<kind>/
answers one report's rows as JSON, with the console's filters (KpiFilterSet)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from tenancy.api.views import OrganizationApiView
from tenancy.models import Organization

from ... import selectors as history_selectors
from ...kpis.filtersets import KpiFilterSet
from .. import services
from ..definitions import ReportKind, Value
from ..models import ReportRun
from ..registry import REPORT_KINDS
from .serializers import ReportKindSerializer, ReportQuerySerializer, ReportSerializer


def _columns(kind: ReportKind) -> list[dict[str, str]]:
    return [{"key": c.key, "label": c.label, "type": c.kind.value} for c in kind.columns]


def _json_value(value: Value, zone: zoneinfo.ZoneInfo) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class ReportsApiView(OrganizationApiView):
    queryset = ReportRun.objects.none()  # for the schema generator only


class ReportKindListApi(ReportsApiView):
    serializer_class = ReportKindSerializer
    pagination_class = None

    @extend_schema(
        operation_id="reports_kinds",
        summary="List the report kinds",
        responses=ReportKindSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        kinds = [
            {
                "kind": kind.key,
                "title": kind.title,
                "description": kind.description,
                "url": reverse("reports-api:report", kwargs={"kind": kind.key}),
                "columns": _columns(kind),
            }
            for kind in REPORT_KINDS.values()
        ]
        return Response(ReportKindSerializer(kinds, many=True).data)


class ReportApi(ReportsApiView):
    serializer_class = ReportSerializer
    pagination_class = None

    @extend_schema(
        operation_id="reports_retrieve",
        summary="Read a report for a period",
        parameters=[ReportQuerySerializer],
        responses={
            200: ReportSerializer,
            400: OpenApiResponse(description="Invalid filter"),
            404: OpenApiResponse(description="No such report kind"),
        },
    )
    def get(self, request: Request, kind: str) -> Response:
        if kind not in REPORT_KINDS:
            raise Http404("No such report.")
        paging = ReportQuerySerializer(data=request.query_params)
        paging.is_valid(raise_exception=True)
        organization = Organization.objects.get(pk=self.organization_id)
        filterset = KpiFilterSet(
            request.query_params,
            organization_id=self.organization_id,
            today=history_selectors.local_today(organization),
            hub_ids=self.hub_ids or [],
        )
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        table = services.report_table_build(
            organization_id=self.organization_id, kind=kind, filters=filterset.kpi_filters()
        )
        zone = zoneinfo.ZoneInfo(table.request.timezone)
        limit, offset = paging.validated_data["limit"], paging.validated_data["offset"]
        keys = [column.key for column in table.columns]
        results = [
            {key: _json_value(value, zone) for key, value in zip(keys, row, strict=True)}
            for row in table.rows[offset : offset + limit]
        ]
        filters = table.request.filters
        body = {
            "kind": kind, "title": table.title, "timezone": table.request.timezone,
            "start": filters.start, "end": filters.end, "columns": _columns(table.kind),
            "count": len(table.rows), "limit": limit, "offset": offset, "results": results,
        }  # fmt: skip
        return Response(ReportSerializer(body).data)
