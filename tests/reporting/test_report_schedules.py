"""Scheduled reports: the period in the organization's zone (DST included), one run per
schedule and period however often beat ticks, one email per run (real local SMTP server) even
when a message is delivered twice or a worker died, and the archive's retention."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from typing import Any

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from fleet.tasks import apply_position_retention
from reporting.models import ReportRun, ReportSchedule
from reporting.reports.periods import Period, period_last_closed
from reporting.reports.services import report_schedules_tick
from reporting.reports.tasks import report_run_build_task, report_run_email_task
from tenancy.context import tenant_context
from tests.alerts.factories import alert_open
from tests.conftest import Tenant
from tests.support.smtp import MailBox, smtp_server

AMS = "Europe/Amsterdam"
UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("frequency", "now", "period"),
    [
        # Spring forward: 29 March 2026 has 23 hours; it closes at 22:00 UTC, not 23:00.
        ("daily", "2026-03-29T21:59:00+00:00", ("2026-03-28", "2026-03-28", "2026-03-28T23:00:00+00:00")),
        ("daily", "2026-03-29T22:00:00+00:00", ("2026-03-29", "2026-03-29", "2026-03-29T22:00:00+00:00")),
        # Fall back: 25 October 2026 has 25 hours; it closes at 23:00 UTC.
        ("daily", "2026-10-25T23:01:00+00:00", ("2026-10-25", "2026-10-25", "2026-10-25T23:00:00+00:00")),
        ("weekly", "2026-03-30T00:00:00+02:00", ("2026-03-23", "2026-03-29", "2026-03-29T22:00:00+00:00")),
        ("weekly", "2026-03-29T23:59:00+02:00", ("2026-03-16", "2026-03-22", "2026-03-22T23:00:00+00:00")),
        ("monthly", "2026-11-01T00:05:00+01:00", ("2026-10-01", "2026-10-31", "2026-10-31T23:00:00+00:00")),
        ("monthly", "2026-01-01T00:00:00+01:00", ("2025-12-01", "2025-12-31", "2025-12-31T23:00:00+00:00")),
    ],
)  # fmt: skip
def test_the_last_closed_period_in_the_organizations_zone(
    frequency: str, now: str, period: tuple[str, str, str]
) -> None:
    start, end, closes = period
    assert period_last_closed(frequency, timezone=AMS, now=at(now)) == Period(
        dt.date.fromisoformat(start), dt.date.fromisoformat(end), at(closes)
    )


@pytest.fixture
def mailbox(settings: Any) -> Any:
    with smtp_server() as box:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = box.host, box.port
        yield box


def schedule_make(tenant: Tenant, *, created: str, **fields: Any) -> ReportSchedule:
    organization = tenant.organization
    organization.timezone = AMS
    organization.save(update_fields=["timezone"])
    values = {
        "name": "Nightly exceptions", "kind": "exceptions", "frequency": "daily",
        "file_format": "csv", "recipients": "ops@example.com\nboss@example.com",
    }  # fmt: skip
    with scopes_disabled():
        schedule = ReportSchedule.objects.create(organization=organization, **{**values, **fields})
        ReportSchedule.objects.filter(pk=schedule.pk).update(created_at=at(created))
        schedule.refresh_from_db()
    return schedule


def tick(tenant: Tenant, now: str) -> list[tuple[str, int]]:
    with tenant_context(tenant.organization):
        return report_schedules_tick(organization_id=tenant.organization.pk, now=at(now))


def runs(schedule: ReportSchedule) -> list[ReportRun]:
    with scopes_disabled():
        return list(ReportRun.objects.filter(schedule=schedule).order_by("pk"))


def attachment_rows(box: MailBox, index: int = 0) -> list[list[str]]:
    message = box.messages[index]
    (attachment,) = list(message.iter_attachments())
    text = attachment.get_content()
    text = text.decode("utf-8-sig") if isinstance(text, bytes) else text.lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.django_db
def test_a_daily_report_over_the_dst_day_is_emailed_once(
    tenant_a: Tenant, tenant_b: Tenant, mailbox: MailBox
) -> None:
    """29 March 2026 in Amsterdam: 23:00 UTC on the 28th to 22:00 UTC on the 29th. Beat ticks
    twice, the build message is delivered twice, the email task runs again: one run, one email,
    holding the day's alerts and no others."""
    schedule = schedule_make(tenant_a, created="2026-03-29T01:00:00+01:00")
    for moment, title in [
        ("2026-03-28T22:59:00+00:00", "Alphaalert before"),  # 23:59 on the 28th
        ("2026-03-28T23:30:00+00:00", "Alphaalert first"),  # 00:30 on the 29th
        ("2026-03-29T21:30:00+00:00", "Alphaalert last"),  # 23:30 CEST
        ("2026-03-29T22:00:00+00:00", "Alphaalert after"),  # midnight: the 30th
    ]:
        alert_open(tenant_a.organization.pk, title=title, opened_at=at(moment), emit=False)
    alert_open(tenant_b.organization.pk, title="Bravoalert same day", opened_at=at("2026-03-29T10:00:00+00:00"), emit=False)  # fmt: skip

    assert tick(tenant_a, "2026-03-29T21:59:30+00:00") == []  # the day has not closed yet
    first = tick(tenant_a, "2026-03-29T22:01:00+00:00")  # a minute after it closed
    second = tick(tenant_a, "2026-03-29T22:02:00+00:00")  # beat again, before a worker ran
    (run,) = runs(schedule)
    assert first == second == [("build", run.pk)]
    assert (run.period_start, run.period_end) == (dt.date(2026, 3, 29), dt.date(2026, 3, 29))

    assert report_run_build_task(tenant_a.organization.pk, run.pk) is True
    assert report_run_build_task(tenant_a.organization.pk, run.pk) is False  # redelivered
    assert report_run_email_task(tenant_a.organization.pk, run.pk) is False  # already sent
    assert tick(tenant_a, "2026-03-29T22:03:00+00:00") == []
    assert len(mailbox.wait_for(1)) == 1
    message = mailbox.messages[0]
    assert message["To"] == "ops@example.com, boss@example.com"
    assert message["Subject"] == "[Doorstep] Nightly exceptions: 2026-03-29"
    rows = attachment_rows(mailbox)
    assert [row[3] for row in rows[1:]] == ["Alphaalert first", "Alphaalert last"]
    assert rows[1][0] == "2026-03-29T00:30:00+01:00" and rows[2][0] == "2026-03-29T23:30:00+02:00"
    (run,) = runs(schedule)
    assert (
        run.emailed_at is not None and run.email_recipients == "ops@example.com, boss@example.com"
    )
    # The next day's tick makes the next period's run, and only that.
    assert [s for s, _ in tick(tenant_a, "2026-03-30T22:01:00+00:00")] == ["build"]
    assert [r.period_start for r in runs(schedule)] == [dt.date(2026, 3, 29), dt.date(2026, 3, 30)]


@pytest.mark.django_db
def test_a_run_whose_worker_died_is_built_and_emailed_later(
    tenant_a: Tenant, mailbox: MailBox
) -> None:
    schedule = schedule_make(tenant_a, created="2026-06-01T00:00:00+02:00", frequency="weekly")
    ((_, run_id),) = tick(tenant_a, "2026-06-08T00:02:00+02:00")
    with scopes_disabled():  # a worker claimed it at 00:02 and was killed
        ReportRun.objects.filter(pk=run_id).update(
            status="running", started_at=at("2026-06-08T00:02:00+02:00")
        )
    assert tick(tenant_a, "2026-06-08T00:05:00+02:00") == []  # still within its time
    assert tick(tenant_a, "2026-06-08T00:13:00+02:00") == [("build", run_id)]  # stale: again
    with tenant_context(tenant_a.organization):
        from reporting.reports.services import report_run_build

        assert report_run_build(
            organization_id=tenant_a.organization.pk,
            run_id=run_id,
            now=at("2026-06-08T00:13:00+02:00"),
        )
    # The build's follow-up email was lost too: the tick sees a finished run not yet emailed.
    assert tick(tenant_a, "2026-06-08T00:14:00+02:00") == [("email", run_id)]
    assert report_run_email_task(tenant_a.organization.pk, run_id) is True
    assert report_run_email_task(tenant_a.organization.pk, run_id) is False
    assert len(mailbox.wait_for(1)) == 1
    assert (
        mailbox.messages[0]["Subject"] == "[Doorstep] Nightly exceptions: 2026-06-01 to 2026-06-07"
    )
    assert len(runs(schedule)) == 1


@pytest.mark.django_db
def test_paused_schedules_and_periods_before_the_schedule_send_nothing(tenant_a: Tenant) -> None:
    schedule = schedule_make(tenant_a, created="2026-06-10T12:00:00+02:00")
    assert tick(tenant_a, "2026-06-10T12:05:00+02:00") == []  # yesterday closed before it existed
    with scopes_disabled():
        ReportSchedule.objects.filter(pk=schedule.pk).update(enabled=False)
    assert tick(tenant_a, "2026-06-11T00:05:00+02:00") == []
    assert runs(schedule) == []


@pytest.mark.django_db
def test_the_archive_keeps_its_retention_through_the_retention_task(
    tenant_a: Tenant, tenant_b: Tenant, settings: Any
) -> None:
    """Runs older than REPORTS_RETENTION_DAYS go, rows and files, in the hourly per-organization
    retention task (fleet.apply_position_retention); newer runs and other tenants' stay."""
    settings.REPORTS_RETENTION_DAYS = 30
    old, new = tenant_a.report_objects[ReportRun], None
    with scopes_disabled():
        new = ReportRun.objects.create(
            organization=tenant_a.organization, kind="trips", file_format="csv",
            period_start=dt.date(2026, 6, 1), period_end=dt.date(2026, 6, 1),
        )  # fmt: skip
        ReportRun.objects.filter(pk=old.pk).update(
            created_at=timezone.now() - dt.timedelta(days=31)
        )
        ReportRun.objects.filter(pk=tenant_b.report_objects[ReportRun].pk).update(
            created_at=timezone.now() - dt.timedelta(days=31)
        )
    old_path = old.file.path
    assert os.path.exists(old_path)
    result = apply_position_retention(tenant_a.organization.pk)
    assert result["report_runs"] == 1
    assert not os.path.exists(old_path)
    with scopes_disabled():
        assert list(ReportRun.objects.filter(organization=tenant_a.organization)) == [new]
        assert ReportRun.objects.filter(organization=tenant_b.organization).count() == 1
    assert os.path.exists(tenant_b.report_objects[ReportRun].file.path)
