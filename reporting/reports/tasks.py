"""Reports' Celery tasks: thin, they take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from tenancy.models import Organization
from tenancy.tasks import tenant_task

from .services import report_run_build, report_run_email, report_runs_retention_apply
from .services import report_schedules_tick as schedules_tick

# Late acknowledgement: a worker killed mid-build or mid-email has its message handed out
# again; the services' claims and row lock make the second delivery harmless.
LATE_ACKS = {"acks_late": True, "reject_on_worker_lost": True}


@tenant_task(name="reporting.report_run_build", **LATE_ACKS)
def report_run_build_task(organization_id: int, run_id: int) -> bool:
    """Build the run's file; a scheduled run is emailed right after."""
    from .models import ReportRun

    built = report_run_build(organization_id=organization_id, run_id=run_id)
    scheduled = ReportRun.objects.filter(
        organization_id=organization_id, pk=run_id, schedule__isnull=False
    ).exists()
    if built and scheduled:
        report_run_email(organization_id=organization_id, run_id=run_id)
    return built


@tenant_task(name="reporting.report_run_email", **LATE_ACKS)
def report_run_email_task(organization_id: int, run_id: int) -> bool:
    return report_run_email(organization_id=organization_id, run_id=run_id)


@tenant_task(name="reporting.report_schedules_tick_organization", **LATE_ACKS)
def report_schedules_tick_organization(organization_id: int) -> int:
    return len(schedules_tick(organization_id=organization_id))


@shared_task(name="reporting.report_schedules_tick")
def report_schedules_tick() -> int:
    """Beat's minute: one tick per organization (organizations are not tenant rows)."""
    organization_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    for organization_id in organization_ids:
        report_schedules_tick_organization.delay(organization_id)
    return len(organization_ids)


@tenant_task(name="reporting.report_runs_apply_retention")
def report_runs_apply_retention(organization_id: int) -> int:
    return report_runs_retention_apply(organization_id=organization_id)
