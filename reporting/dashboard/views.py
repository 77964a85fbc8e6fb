"""/dashboards/: the manager's home (the console's navigation and the manager's landing page)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tenancy.models import Role
from tenancy.permissions import role_required
from tenancy.selectors import membership_hub_ids

from .. import selectors
from ..kpis.filters import KpiFilters
from ..kpis.filtersets import KpiFilterSet
from .page import dashboard_page, dashboard_url
from .tiles import DEFAULT_RANK

DASHBOARD_ROLES = (Role.ADMIN, Role.MANAGER, Role.DISPATCHER)


@require_GET
@role_required(*DASHBOARD_ROLES)
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = request.membership  # type: ignore[attr-defined]
    organization = request.organization  # type: ignore[attr-defined]
    filterset = KpiFilterSet(
        request.GET,
        organization_id=organization.pk,
        today=selectors.local_today(organization),
        hub_ids=membership_hub_ids(membership=membership),
    )
    valid = filterset.is_valid()
    context = {
        "section": "dashboards",
        "filterset": filterset,
        "timezone": organization.timezone,
        "entity_fields": _entity_fields(filterset, request),
    }
    if not valid:
        # Precise errors beside the fields, no figures: a slice that cannot be read is a 400.
        return render(request, "reporting/dashboard.html", context, status=400)
    filters = filterset.kpi_filters()
    page = dashboard_page(
        organization_id=organization.pk,
        filters=filters,
        rank=request.GET.get("rank", DEFAULT_RANK),
    )
    context["presets"] = _presets(filters, filterset.today, page.rank)
    context["wider"] = {"start": filters.end - dt.timedelta(days=89)}
    return render(request, "reporting/dashboard.html", {**context, "page": page})


ENTITY_FIELDS = (
    ("hub", "Hub", "All hubs", "name"),
    ("zone", "Zone", "All zones", "name"),
    ("vehicle", "Vehicle", "All vehicles", "plate"),
    ("driver", "Driver", "All drivers", "name"),
)


def _entity_fields(filterset: KpiFilterSet, request: HttpRequest) -> list[dict[str, Any]]:
    """The hub, zone, vehicle and driver pickers: the member's own choices only (the
    FilterSet's querysets), the asked-for one selected."""
    fields = []
    for name, label, any_label, attribute in ENTITY_FIELDS:
        wanted = set(request.GET.getlist(name))
        queryset = filterset.form.fields[name].queryset  # type: ignore[attr-defined]
        fields.append(
            {
                "name": name,
                "label": label,
                "any": any_label,
                "errors": filterset.form.errors.get(name, []),
                "choices": [
                    {"pk": pk, "label": text, "selected": str(pk) in wanted}
                    for pk, text in queryset.values_list("pk", attribute)
                ],
            }
        )
    return fields


PRESET_DAYS = (7, 30, 90)


def _presets(filters: KpiFilters, today: dt.date, rank: str) -> list[dict[str, Any]]:
    """Last 7 / 30 / 90 days up to today, keeping the other filters."""
    presets = []
    for days in PRESET_DAYS:
        start = today - dt.timedelta(days=days - 1)
        presets.append(
            {
                "label": f"{days} days",
                "url": dashboard_url(
                    filters, start=start.isoformat(), end=today.isoformat(), rank=rank
                ),
                "active": filters.start == start and filters.end == today,
            }
        )
    return presets
