"""Reports' write side: building a report, export runs and their files, scheduled runs and
their email, and the archive's retention.

Exactly once per schedule and period: the run row is unique on (schedule, period start), so a
second beat tick, a second beat or a redelivered message finds the run instead of making one.
A run is built by whichever task claims it (queued, or running for longer than `STALE_AFTER`:
its worker died); rebuilding overwrites nothing but its own file. The email is sent under the
run's row lock and marked sent in the same transaction, like the alerts' notifications: a second
task waits for the lock and finds it sent; a worker killed after the SMTP server accepted the
message and before the commit sends it again with the same Message-ID, so mail clients show it
once."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import zoneinfo
from collections.abc import Iterable

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tenancy.context import require_organization
from tenancy.errors import InvalidInput
from tenancy.models import Organization

from ..kpis.filters import KpiFilters
from ..rollups import rollups_are_final, rollups_recompute_day
from .definitions import Progress, ReportRequest, ReportTable
from .files import CONTENT_TYPES, RENDERERS
from .models import ReportRun, ReportSchedule
from .periods import period_last_closed
from .registry import REPORT_KINDS, report_kind_get

logger = logging.getLogger(__name__)
STALE_AFTER = dt.timedelta(minutes=10)
PROGRESS_EVERY_SECONDS = 0.5
Status = ReportRun.Status


def _no_progress(share: float) -> None:
    return None


def report_table_build(
    *, organization_id: int, kind: str, filters: KpiFilters, progress: Progress = _no_progress
) -> ReportTable:
    """One report's rows for a slice (raises InvalidInput for an unknown kind)."""
    require_organization(organization_id)
    try:
        report_kind = report_kind_get(kind)
    except KeyError:
        raise InvalidInput(f"Unknown report kind {kind!r}.") from None
    organization = Organization.objects.get(pk=organization_id)
    request = ReportRequest(organization_id, organization.timezone, filters)
    return ReportTable(report_kind, request, report_kind.build(request, progress))


def recipients_parse(text: str) -> list[str]:
    """Email addresses separated by commas, semicolons or line breaks (InvalidInput names the
    first bad one)."""
    addresses = [part.strip() for part in text.replace(";", ",").replace("\n", ",").split(",")]
    addresses = [address for address in addresses if address]
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidInput(f"{address!r} is not an email address.") from None
    if not addresses:
        raise InvalidInput("Name at least one recipient.")
    return list(dict.fromkeys(addresses))


def run_filters(run: ReportRun) -> KpiFilters:
    return KpiFilters(
        start=run.period_start,
        end=run.period_end,
        hub_ids=tuple(run.hub_ids),
        zone_ids=tuple(run.zone_ids),
        vehicle_ids=tuple(run.vehicle_ids),
        driver_ids=tuple(run.driver_ids),
    )


def _filter_fields(filters: KpiFilters) -> dict[str, list[int]]:
    return {
        "hub_ids": list(filters.hub_ids),
        "zone_ids": list(filters.zone_ids),
        "vehicle_ids": list(filters.vehicle_ids),
        "driver_ids": list(filters.driver_ids),
    }


def report_run_request(
    *,
    organization_id: int,
    kind: str,
    file_format: str,
    filters: KpiFilters,
    requested_by_id: int | None = None,
) -> ReportRun:
    """A new export run, built by a worker once this transaction commits."""
    require_organization(organization_id)
    if kind not in REPORT_KINDS:
        raise InvalidInput(f"Unknown report kind {kind!r}.")
    if file_format not in RENDERERS:
        raise InvalidInput(f"Unknown file format {file_format!r}.")
    with transaction.atomic():
        run = ReportRun.objects.create(
            organization_id=organization_id,
            kind=kind,
            file_format=file_format,
            period_start=filters.start,
            period_end=filters.end,
            requested_by_id=requested_by_id,
            **_filter_fields(filters),
        )
        _enqueue_build(run)
    return run


# Tasks by name: the tasks module calls these services, so it is not imported back.
TASK_NAMES = {"build": "reporting.report_run_build", "email": "reporting.report_run_email"}


def _send(step: str, organization_id: int, run_id: int) -> None:
    current_app.send_task(TASK_NAMES[step], args=[organization_id, run_id])


def _enqueue_build(run: ReportRun) -> None:
    organization_id, run_id = run.organization_id, run.pk
    transaction.on_commit(lambda: _send("build", organization_id, run_id))


def _claim(organization_id: int, run_id: int, now: dt.datetime) -> bool:
    claimable = Q(status=Status.QUEUED) | Q(status=Status.RUNNING, started_at__lt=now - STALE_AFTER)
    return bool(
        ReportRun.objects.filter(organization_id=organization_id, pk=run_id)
        .filter(claimable)
        .update(status=Status.RUNNING, started_at=now, progress=0, error="")
    )


class _ProgressWriter:
    """Writes the run's percentage at most every half second: each write is a query."""

    def __init__(self, organization_id: int, run_id: int) -> None:
        self.organization_id, self.run_id = organization_id, run_id
        self.written, self.at = -1, 0.0

    def __call__(self, share: float) -> None:
        # Building is 90 % of the bar; the file the last 10 %.
        percent = min(90, int(share * 90))
        if percent > self.written and time.monotonic() - self.at >= PROGRESS_EVERY_SECONDS:
            self.write(percent)

    def write(self, percent: int) -> None:
        ReportRun.objects.filter(organization_id=self.organization_id, pk=self.run_id).update(
            progress=percent
        )
        self.written, self.at = percent, time.monotonic()


def _rollups_finalize(organization_id: int, filters: KpiFilters, timezone_name: str) -> None:
    """Kinds that read the daily rollups need the period's days rolled up after they ended:
    a scheduled report runs minutes after midnight, before the hourly rollup may have."""
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(timezone_name)).date()
    for offset in range(filters.days):
        day = filters.start + dt.timedelta(days=offset)
        if day < today and not rollups_are_final(organization_id=organization_id, day=day):
            rollups_recompute_day(organization_id=organization_id, day=day)


def report_run_build(*, organization_id: int, run_id: int, now: dt.datetime | None = None) -> bool:
    """Build a claimed run's file; False when another task has it or it is finished."""
    require_organization(organization_id)
    if not _claim(organization_id, run_id, now or timezone.now()):
        return False
    run = ReportRun.objects.get(organization_id=organization_id, pk=run_id)
    progress = _ProgressWriter(organization_id, run_id)
    try:
        filters = run_filters(run)
        if report_kind_get(run.kind).reads_rollups:
            organization = Organization.objects.get(pk=organization_id)
            _rollups_finalize(organization_id, filters, organization.timezone)
        table = report_table_build(
            organization_id=organization_id, kind=run.kind, filters=filters, progress=progress
        )
        progress.write(90)
        body = RENDERERS[run.file_format](table)
    except Exception as exc:  # a broken report must show as failed, not spin forever
        logger.exception("report run %s failed", run_id)
        ReportRun.objects.filter(organization_id=organization_id, pk=run_id).update(
            status=Status.FAILED, error=str(exc)[:300] or type(exc).__name__,
            finished_at=timezone.now(),
        )  # fmt: skip
        return False
    old_name = run.file.name
    run.file.save(run.download_name, ContentFile(body), save=False)
    ReportRun.objects.filter(organization_id=organization_id, pk=run_id).update(
        status=Status.DONE, progress=100, rows=len(table.rows), file=run.file.name,
        finished_at=timezone.now(),
    )  # fmt: skip
    if old_name and old_name != run.file.name:
        run.file.storage.delete(old_name)  # a rebuilt run keeps one file
    return True


def message_id(run: ReportRun) -> str:
    digest = hashlib.sha256(f"report-run:{run.pk}".encode()).hexdigest()[:32]
    return f"<{digest}@{settings.DOORSTEP_EMAIL_MESSAGE_ID_DOMAIN}>"


def _report_email(run: ReportRun, schedule: ReportSchedule, recipients: list[str]) -> EmailMessage:
    kind = report_kind_get(run.kind)
    period = run.period_start.isoformat()
    if run.period_end != run.period_start:
        period += f" to {run.period_end.isoformat()}"
    body = (
        f"{kind.title} report for {period} ({run.rows or 0} rows), attached.\n\n"
        f"Schedule: {schedule.name} ({schedule.get_frequency_display()}).\n"
        f"Archive: {settings.DOORSTEP_PUBLIC_URL}/reports/archive/\n"
    )
    message = EmailMessage(
        subject=f"[Doorstep] {schedule.name}: {period}"[:200],
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Message-ID": message_id(run)},
    )
    with run.file.open("rb") as handle:
        message.attach(run.download_name, handle.read(), CONTENT_TYPES[run.file_format])
    return message


def report_run_email(*, organization_id: int, run_id: int) -> bool:
    """Email a finished scheduled run to its schedule's recipients, once."""
    require_organization(organization_id)
    with transaction.atomic():
        run = (
            ReportRun.objects.select_for_update()
            .filter(organization_id=organization_id, pk=run_id)
            .first()
        )
        if run is None or run.emailed_at is not None or run.status != Status.DONE:
            return False
        schedule = run.schedule
        if schedule is None:
            return False
        recipients = recipients_parse(schedule.recipients)
        _report_email(run, schedule, recipients).send()
        run.emailed_at = timezone.now()
        run.email_recipients = ", ".join(recipients)
        run.save(update_fields=["emailed_at", "email_recipients"])
    return True


def _schedule_run(
    schedule: ReportSchedule, now: dt.datetime, timezone_name: str
) -> ReportRun | None:
    period = period_last_closed(schedule.frequency, timezone=timezone_name, now=now)
    # A schedule reports on periods that close after it was made, not on the past.
    if period.closes_at < schedule.created_at:
        return None
    fields = {"organization_id": schedule.organization_id, "schedule": schedule}
    run = ReportRun.objects.filter(**fields, period_start=period.start).first()
    if run is not None:
        return run
    try:
        with transaction.atomic():
            return ReportRun.objects.create(
                **fields, kind=schedule.kind, file_format=schedule.file_format,
                period_start=period.start, period_end=period.end,
                hub_ids=schedule.hub_ids, zone_ids=schedule.zone_ids,
                vehicle_ids=schedule.vehicle_ids, driver_ids=schedule.driver_ids,
            )  # fmt: skip
    except IntegrityError:  # a concurrent tick made it first
        return ReportRun.objects.filter(**fields, period_start=period.start).first()


def report_schedules_tick(
    *, organization_id: int, now: dt.datetime | None = None
) -> list[tuple[str, int]]:
    """Beat's minute for one organization: the run of each enabled schedule's last closed
    period, made once; what it still needs (a build, an email) is enqueued. Returns the
    (step, run id) pairs enqueued."""
    require_organization(organization_id)
    now = now or timezone.now()
    organization = Organization.objects.get(pk=organization_id)
    steps: list[tuple[str, int]] = []
    schedules = ReportSchedule.objects.filter(organization_id=organization_id, enabled=True)
    for schedule in schedules.order_by("pk"):
        if schedule.kind not in REPORT_KINDS:
            continue
        run = _schedule_run(schedule, now, organization.timezone)
        if run is None:
            continue
        step = _next_step(run, now)
        if step:
            steps.append((step, run.pk))
    _enqueue_steps(organization_id, steps)
    return steps


def _next_step(run: ReportRun, now: dt.datetime) -> str | None:
    if run.status == Status.QUEUED or (
        run.status == Status.RUNNING and run.started_at and run.started_at < now - STALE_AFTER
    ):
        return "build"
    if run.status == Status.DONE and run.emailed_at is None:
        return "email"
    return None


def _enqueue_steps(organization_id: int, steps: Iterable[tuple[str, int]]) -> None:
    for step, run_id in steps:
        _send(step, organization_id, run_id)


def report_runs_retention_apply(*, organization_id: int, now: dt.datetime | None = None) -> int:
    """Delete the organization's runs (rows and files) older than REPORTS_RETENTION_DAYS."""
    require_organization(organization_id)
    cutoff = (now or timezone.now()) - dt.timedelta(days=settings.REPORTS_RETENTION_DAYS)
    old = ReportRun.objects.filter(organization_id=organization_id, created_at__lt=cutoff)
    deleted = 0
    for run in old.order_by("pk")[:1000]:
        if run.file:
            run.file.storage.delete(run.file.name)
        run.delete()
        deleted += 1
    return deleted


def report_schedule_save(
    *, organization_id: int, schedule: ReportSchedule, created_by_id: int | None = None
) -> ReportSchedule:
    """Save a validated schedule (from ReportScheduleForm) as the organization's."""
    require_organization(organization_id)
    if schedule.kind not in REPORT_KINDS:
        raise InvalidInput(f"Unknown report kind {schedule.kind!r}.")
    schedule.recipients = "\n".join(recipients_parse(schedule.recipients))
    schedule.organization_id = organization_id
    if schedule.pk is None:
        schedule.created_by_id = created_by_id
    schedule.save()
    return schedule


def report_schedule_delete(*, organization_id: int, schedule_id: int) -> None:
    """The schedule goes; its past runs stay in the archive until their retention."""
    require_organization(organization_id)
    ReportSchedule.objects.filter(organization_id=organization_id, pk=schedule_id).delete()
