"""Report rows for the shared tenants (tests/conftest.py): one schedule and one finished run
with a file, named so that the cross-tenant harness can spot them in a page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone
from django_scopes import scopes_disabled

from reporting.models import ReportRun, ReportSchedule


def tenant_reports_build(label: str, organization: Any) -> dict[type, Any]:
    with scopes_disabled():
        schedule = ReportSchedule.objects.create(
            organization=organization,
            name=f"{label}schedule Weekly",
            kind="trips",
            frequency="weekly",
            file_format="csv",
            recipients=f"{label.lower()}-manager@example.com",
        )
        run = ReportRun(
            organization=organization,
            kind="trips",
            file_format="csv",
            period_start=dt.date(2026, 3, 2),
            period_end=dt.date(2026, 3, 8),
            schedule=schedule,
            status=ReportRun.Status.DONE,
            progress=100,
            rows=1,
            finished_at=timezone.now(),
        )
        run.file.save(
            "trips.csv", ContentFile(f"Vehicle\n{label}report-file-row\n".encode()), save=False
        )
        run.save()
    return {ReportSchedule: schedule, ReportRun: run}


def report_markers(label: str, objects: dict[type, Any]) -> list[str]:
    """The strings only this tenant's report rows and file contain."""
    if not objects:
        return []
    return [objects[ReportSchedule].name, f"{label}report-file-row"]


def tenant_rollups_build(organization: Any, vehicle: Any, route: Any) -> dict[type, Any]:
    """One vehicle-day and one route-day rollup (admin walks them; the KPIs read them)."""
    from reporting.models import DailyRouteRollup, DailyVehicleRollup

    with scopes_disabled():
        vehicle_day, _ = DailyVehicleRollup.objects.get_or_create(
            organization=organization,
            vehicle=vehicle,
            day=dt.date(2026, 3, 2),
            defaults={"distance_m": 1000.0, "computed_at": timezone.now()},
        )
        route_day, _ = DailyRouteRollup.objects.get_or_create(
            organization=organization,
            route=route,
            defaults={"day": route.date, "computed_at": timezone.now()},
        )
    return {DailyVehicleRollup: vehicle_day, DailyRouteRollup: route_day}
