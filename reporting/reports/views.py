"""The console's reports: pick a kind and a slice, see the rows, export them (a Celery run with
a progress bar), the archive of runs with their files, and the schedules. Logic lives in the
services and selectors."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenancy.models import Role
from tenancy.permissions import CONSOLE_ROLES, role_required
from tenancy.selectors import membership_hub_ids

from .. import selectors as history_selectors
from ..kpis.filtersets import KpiFilterSet
from . import selectors, services
from .definitions import ColumnKind
from .files import CONTENT_TYPES, display_value
from .forms import ReportScheduleForm
from .models import FORMAT_CHOICES, ReportRun, ReportSchedule
from .registry import REPORT_KINDS

REPORT_ROLES = CONSOLE_ROLES
SCHEDULE_ROLES = (Role.ADMIN, Role.MANAGER)
PREVIEW_ROWS = 200
NUMERIC = (ColumnKind.INTEGER, ColumnKind.DECIMAL)


def _kind_title(key: str) -> str:
    kind = REPORT_KINDS.get(key)
    return kind.title if kind else key


def _scope(request: HttpRequest) -> tuple[int, list[int]]:
    membership = request.membership  # type: ignore[attr-defined]
    return membership.organization_id, membership_hub_ids(membership=membership)


def _filterset(request: HttpRequest, data: QueryDict | None) -> KpiFilterSet:
    organization_id, hub_ids = _scope(request)
    today = history_selectors.local_today(request.organization)  # type: ignore[attr-defined]
    return KpiFilterSet(data, organization_id=organization_id, today=today, hub_ids=hub_ids)


def _preview(request: HttpRequest, kind: str, filterset: KpiFilterSet) -> dict[str, Any]:
    organization_id, _ = _scope(request)
    table = services.report_table_build(
        organization_id=organization_id, kind=kind, filters=filterset.kpi_filters()
    )
    zone = zoneinfo.ZoneInfo(table.request.timezone)
    rows = [
        [
            (display_value(column, value, zone), column.kind in NUMERIC)
            for column, value in zip(table.columns, row, strict=True)
        ]
        for row in table.rows[:PREVIEW_ROWS]
    ]
    return {"table": table, "preview_rows": rows, "total_rows": len(table.rows)}


@require_GET
@role_required(*REPORT_ROLES)
def report_page(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    filterset = _filterset(request, request.GET if request.GET else None)
    context: dict[str, Any] = {
        "section": "reports",
        "kinds": list(REPORT_KINDS.values()),
        "kind": REPORT_KINDS.get(kind),
        "filterset": filterset,
        "formats": FORMAT_CHOICES,
        "query": request.GET.urlencode(),
    }
    status = 200
    if kind and kind not in REPORT_KINDS:
        context["kind_error"] = "Choose one of the reports."
        status = 400
    elif filterset.is_bound and not filterset.is_valid():
        status = 400
    elif kind:
        context.update(_preview(request, kind, filterset))
    organization_id, hub_ids = _scope(request)
    context["recent_runs"] = selectors.report_run_list(
        organization_id=organization_id, hub_ids=hub_ids
    ).filter(requested_by_id=request.user.pk)[:5]
    return render(request, "reporting/report_page.html", context, status=status)


@require_POST
@role_required(*REPORT_ROLES)
def report_run_create(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    file_format = request.POST.get("file_format", "")
    filterset = _filterset(request, request.POST)
    if kind not in REPORT_KINDS or file_format not in CONTENT_TYPES or not filterset.is_valid():
        return render(
            request,
            "reporting/_run_status.html",
            {"error": "Choose a report, a period and a file format, then export again."},
            status=400,
        )
    organization_id, _ = _scope(request)
    run = services.report_run_request(
        organization_id=organization_id,
        kind=kind,
        file_format=file_format,
        filters=filterset.kpi_filters(),
        requested_by_id=request.user.pk,
    )
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "reporting/_run_status.html", {"run": run})
    return redirect("reports:archive")


def _run(request: HttpRequest, run_id: int) -> ReportRun:
    organization_id, hub_ids = _scope(request)
    try:
        return selectors.report_run_get(
            organization_id=organization_id, run_id=run_id, hub_ids=hub_ids
        )
    except ReportRun.DoesNotExist:
        raise Http404("No such report.") from None


@require_GET
@role_required(*REPORT_ROLES)
def report_run_status(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress bar's poll (htmx, every second until the run is finished)."""
    response = render(request, "reporting/_run_status.html", {"run": _run(request, run_id)})
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@role_required(*REPORT_ROLES)
def report_run_download(request: HttpRequest, run_id: int) -> Any:
    run = _run(request, run_id)
    if run.status != ReportRun.Status.DONE or not run.file:
        raise Http404("This report has no file (yet).")
    response = FileResponse(
        run.file.open("rb"),
        as_attachment=True,
        filename=run.download_name,
        content_type=CONTENT_TYPES[run.file_format],
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@role_required(*REPORT_ROLES)
def report_archive(request: HttpRequest) -> HttpResponse:
    organization_id, hub_ids = _scope(request)
    runs = selectors.report_run_list(organization_id=organization_id, hub_ids=hub_ids)
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "reporting/report_archive.html",
        {
            "section": "reports",
            "page": page,
            "runs": [(run, _kind_title(run.kind)) for run in page],
            "retention_days": settings.REPORTS_RETENTION_DAYS,
        },
    )


def _schedule(request: HttpRequest, schedule_id: int) -> ReportSchedule:
    organization_id, hub_ids = _scope(request)
    try:
        return selectors.report_schedule_get(
            organization_id=organization_id, schedule_id=schedule_id, hub_ids=hub_ids
        )
    except ReportSchedule.DoesNotExist:
        raise Http404("No such schedule.") from None


def _schedule_form_page(request: HttpRequest, schedule: ReportSchedule | None) -> HttpResponse:
    organization_id, _ = _scope(request)
    form = ReportScheduleForm(
        request.POST if request.method == "POST" else None,
        instance=schedule,
        organization_id=organization_id,
    )
    if request.method == "POST" and form.is_valid():
        services.report_schedule_save(
            organization_id=organization_id,
            schedule=form.save(commit=False),
            created_by_id=request.user.pk,
        )
        return redirect("reports:schedules")
    schedules = selectors.report_schedule_list(
        organization_id=organization_id, hub_ids=_scope(request)[1]
    )
    return render(
        request,
        "reporting/report_schedules.html",
        {
            "section": "reports",
            "form": form,
            "editing": schedule,
            "schedule_rows": [(item, _kind_title(item.kind)) for item in schedules],
            "timezone": request.organization.timezone,  # type: ignore[attr-defined]
        },
        status=400 if form.is_bound else 200,
    )


@require_http_methods(["GET", "POST"])
@role_required(*SCHEDULE_ROLES)
def report_schedules(request: HttpRequest) -> HttpResponse:
    return _schedule_form_page(request, None)


@require_http_methods(["GET", "POST"])
@role_required(*SCHEDULE_ROLES)
def report_schedule_edit(request: HttpRequest, schedule_id: int) -> HttpResponse:
    return _schedule_form_page(request, _schedule(request, schedule_id))


@require_POST
@role_required(*SCHEDULE_ROLES)
def report_schedule_delete(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = _schedule(request, schedule_id)
    services.report_schedule_delete(
        organization_id=schedule.organization_id, schedule_id=schedule.pk
    )
    return redirect(reverse("reports:schedules"))
