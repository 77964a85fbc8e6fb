"""Reports' reads: the archive's runs and the schedules a member may see. A hub-scoped member
sees only what is limited to their hubs (a run or schedule of the whole organization is not
theirs to read)."""

from __future__ import annotations

from django.db.models import QuerySet

from tenancy.context import require_organization

from .models import ReportRun, ReportSchedule


def report_run_list(
    *, organization_id: int, hub_ids: list[int] | None = None
) -> QuerySet[ReportRun]:
    require_organization(organization_id)
    runs = ReportRun.objects.filter(organization_id=organization_id)
    if hub_ids:
        runs = runs.filter(hub_ids__contained_by=hub_ids).exclude(hub_ids=[])
    return runs.select_related("schedule", "requested_by").order_by("-created_at", "-pk")


def report_run_get(
    *, organization_id: int, run_id: int, hub_ids: list[int] | None = None
) -> ReportRun:
    """Raises ReportRun.DoesNotExist for a foreign or out-of-scope run."""
    return report_run_list(organization_id=organization_id, hub_ids=hub_ids).get(pk=run_id)


def report_schedule_list(
    *, organization_id: int, hub_ids: list[int] | None = None
) -> QuerySet[ReportSchedule]:
    require_organization(organization_id)
    schedules = ReportSchedule.objects.filter(organization_id=organization_id)
    if hub_ids:
        schedules = schedules.filter(hub_ids__contained_by=hub_ids).exclude(hub_ids=[])
    return schedules.order_by("name", "pk")


def report_schedule_get(
    *, organization_id: int, schedule_id: int, hub_ids: list[int] | None = None
) -> ReportSchedule:
    return report_schedule_list(organization_id=organization_id, hub_ids=hub_ids).get(
        pk=schedule_id
    )
