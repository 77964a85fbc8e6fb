"""GET /api/v1/kpis/summary/, /daily/ and /breakdown/<by>/: the dashboard's numbers for BI
tools, read through the dashboard's FilterSet (KpiFilterSet) and the same three functions."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from tenancy.api.errors import InvalidQuery
from tenancy.api.views import OrganizationApiView
from tenancy.models import Organization

from ...models import DailyVehicleRollup
from ...selectors import local_today
from ..filters import KpiFilters
from ..filtersets import KpiFilterSet
from ..summary import BREAKDOWNS, kpi_breakdown, kpi_daily, kpi_summary
from .serializers import KpiBreakdownSerializer, KpiDailySerializer, KpiSummarySerializer

SLICE_PARAMETERS = [
    OpenApiParameter(
        "start", OpenApiTypes.DATE, description="First local day (default: 30 days ago)."
    ),
    OpenApiParameter(
        "end", OpenApiTypes.DATE, description="Last local day, included (default: today)."
    ),
    *(
        OpenApiParameter(
            name, OpenApiTypes.INT, many=True, description=f"Keep these {name}s (repeat)."
        )
        for name in ("hub", "zone", "vehicle", "driver")
    ),
]


def _plain(value: Any) -> Any:
    """Dataclasses to dicts, Decimals to floats, tuples to lists (JSON)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _period(filters: KpiFilters) -> dict[str, Any]:
    return {
        "start": filters.start,
        "end": filters.end,
        "hub": list(filters.hub_ids),
        "zone": list(filters.zone_ids),
        "vehicle": list(filters.vehicle_ids),
        "driver": list(filters.driver_ids),
    }


class KpiApiView(OrganizationApiView):
    queryset = DailyVehicleRollup.objects.none()  # schema only

    def slice(self, request: Request) -> tuple[KpiFilters, str]:
        organization = Organization.objects.get(pk=self.organization_id)
        filterset = KpiFilterSet(
            request.query_params,
            organization_id=self.organization_id,
            today=local_today(organization),
            hub_ids=self.hub_ids or [],
        )
        if not filterset.is_valid():
            raise InvalidQuery(filterset.form.errors.get_json_data())
        return filterset.kpi_filters(), str(organization.timezone)


class KpiSummaryApi(KpiApiView):
    @extend_schema(
        operation_id="kpis_summary",
        summary="KPIs of a period, with the previous period's",
        parameters=SLICE_PARAMETERS,
        responses=KpiSummarySerializer,
    )
    def get(self, request: Request) -> Response:
        filters, zone = self.slice(request)
        summary = kpi_summary(organization_id=self.organization_id, filters=filters)
        body = _plain(summary)
        body.pop("filters")
        return Response({"period": _period(filters), **body, "timezone": zone})


class KpiDailyApi(KpiApiView):
    @extend_schema(
        operation_id="kpis_daily",
        summary="KPIs per local day of a period (trend series)",
        parameters=SLICE_PARAMETERS,
        responses=KpiDailySerializer,
    )
    def get(self, request: Request) -> Response:
        filters, zone = self.slice(request)
        days = kpi_daily(organization_id=self.organization_id, filters=filters)
        return Response({"period": _period(filters), "timezone": zone, "days": _plain(days)})


class KpiBreakdownApi(KpiApiView):
    @extend_schema(
        operation_id="kpis_breakdown",
        summary="KPIs per vehicle, driver, hub or day (scorecards, worst offenders)",
        parameters=[
            OpenApiParameter("by", str, OpenApiParameter.PATH, enum=list(BREAKDOWNS)),
            *SLICE_PARAMETERS,
        ],
        responses=KpiBreakdownSerializer,
    )
    def get(self, request: Request, by: str) -> Response:
        filters, zone = self.slice(request)
        rows = kpi_breakdown(organization_id=self.organization_id, filters=filters, by=by)  # type: ignore[arg-type]
        plain = [{k: v for k, v in _plain(row).items() if k != "by"} for row in rows]
        return Response({"period": _period(filters), "timezone": zone, "by": by, "rows": plain})
