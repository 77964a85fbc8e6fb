"""Report runs (one export: its file, status and progress) and report schedules (a report
emailed every day, week or month). Loaded by Django through reporting/models.py."""

from __future__ import annotations

import pathlib
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from tenancy.models import TenantModel

FORMAT_CHOICES = [("csv", "CSV"), ("xlsx", "Excel (XLSX)"), ("pdf", "PDF with chart")]


def report_upload_to(instance: ReportRun, filename: str) -> str:
    # Under the organization, with a random name: files are only served through the
    # access-checked download view, never from MEDIA_URL.
    suffix = pathlib.Path(filename).suffix.lower()[:6]
    return f"reports/{instance.organization_id}/{uuid.uuid4().hex}{suffix}"


def _ids() -> ArrayField:  # type: ignore[type-arg]
    return ArrayField(models.BigIntegerField(), default=list, blank=True)


class ReportSchedule(TenantModel):
    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily (yesterday)"
        WEEKLY = "weekly", "Weekly (Monday to Sunday)"
        MONTHLY = "monthly", "Monthly (the calendar month)"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32)
    file_format = models.CharField(max_length=8, choices=FORMAT_CHOICES, default="pdf")
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default="daily")
    recipients = models.TextField(help_text="Email addresses, one per line or comma-separated.")
    hub_ids = _ids()
    zone_ids = _ids()
    vehicle_ids = _ids()
    driver_ids = _ids()
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class ReportRun(TenantModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32)
    file_format = models.CharField(max_length=8, choices=FORMAT_CHOICES)
    period_start = models.DateField()
    period_end = models.DateField()
    hub_ids = _ids()
    zone_ids = _ids()
    vehicle_ids = _ids()
    driver_ids = _ids()
    schedule = models.ForeignKey(
        ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    rows = models.PositiveIntegerField(null=True, blank=True)
    file = models.FileField(upload_to=report_upload_to, blank=True, max_length=200)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Scheduled runs: emailed once (reporting/reports/services.py, report_run_email).
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_recipients = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One run per schedule and period: a second beat tick (or a second beat) finds it.
            models.UniqueConstraint(
                fields=["organization", "schedule", "period_start"],
                condition=models.Q(schedule__isnull=False),
                name="one_report_run_per_schedule_period",
            )
        ]
        indexes = [models.Index(fields=["organization", "created_at"], name="report_run_org_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.period_start} to {self.period_end}"

    @property
    def download_name(self) -> str:
        period = self.period_start.isoformat()
        if self.period_end != self.period_start:
            period += f"_{self.period_end.isoformat()}"
        return f"{self.kind}-{period}.{self.file_format}"
