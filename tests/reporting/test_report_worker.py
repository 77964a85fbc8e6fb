"""A long export through a real Celery worker: the console's export button enqueues it, the
progress bar polls until the file is ready, the download is the report; and the progress the
build reports climbs from 0 to 100."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django_scopes import scopes_disabled

from reporting.models import ReportRun
from reporting.reports import services
from reporting.reports.services import report_run_build
from tenancy.context import tenant_context
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.factories import DeviceFactory
from tests.reporting.positions import positions_insert
from tests.reporting.tracks import delivery_day
from tests.support.celery import CeleryWorker

START = dt.date(2026, 6, 8)
DAYS = 3


def _fleet(tenant: Tenant, vans: int = 3) -> None:
    """`vans` vans, each with a whole delivery day (a fix every 30 s) on each of DAYS days."""
    devices = [tenant.device] + [
        DeviceFactory.create(
            organization=tenant.organization,
            identifier=f"alphadev-{i:04d}",
            vehicle__plate=f"ALPHA-VAN-{i}",
            vehicle__hub=tenant.hub,
        )
        for i in range(2, vans + 1)
    ]
    for offset in range(DAYS):
        midnight = dt.datetime.combine(
            START + dt.timedelta(days=offset), dt.time.min, tzinfo=dt.UTC
        )
        for device in devices:
            positions_insert(device, delivery_day(midnight.timestamp(), every=30).fixes)


@pytest.mark.django_db(transaction=True)
def test_an_export_runs_in_the_worker_with_a_progress_bar_and_downloads(
    tenant_a: Tenant, celery_worker: CeleryWorker
) -> None:
    _fleet(tenant_a)
    client = login(tenant_a.users[Role.MANAGER])
    end = START + dt.timedelta(days=DAYS - 1)
    response = client.post(
        "/reports/runs/",
        {"kind": "trips", "start": START, "end": end, "file_format": "csv"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and 'data-status="queued"' in response.content.decode()
    with scopes_disabled():
        run = ReportRun.objects.get(requested_by=tenant_a.users[Role.MANAGER])
    seen: list[int] = []

    def finished() -> str | None:
        status = client.get(f"/reports/runs/{run.pk}/").content.decode()
        with scopes_disabled():
            seen.append(ReportRun.objects.get(pk=run.pk).progress)
        return status if 'data-status="done"' in status else None

    status = celery_worker.wait_for(finished, "the export to finish", seconds=120, poll=0.05)
    assert seen == sorted(seen) and seen[-1] == 100  # the bar only ever moves forward
    assert "Download" in status and "every 1s" not in status  # polling stops when done
    download = client.get(f"/reports/runs/{run.pk}/download/")
    text = b"".join(download.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(text)))
    plates = {row[0] for row in rows[1:]}
    assert plates == {tenant_a.vehicle.plate, "ALPHA-VAN-2", "ALPHA-VAN-3"}
    days = {row[2] for row in rows[1:]}
    assert days == {(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS)}
    with scopes_disabled():
        run.refresh_from_db()
    assert run.rows == len(rows) - 1 and run.started_at and run.finished_at


@pytest.mark.django_db
def test_the_build_reports_its_progress_as_it_goes(tenant_a: Tenant, monkeypatch: Any) -> None:
    _fleet(tenant_a)
    monkeypatch.setattr(services, "PROGRESS_EVERY_SECONDS", 0.0)
    written: list[int] = []
    original = services._ProgressWriter.write

    def spy(self: Any, percent: int) -> None:
        written.append(percent)
        original(self, percent)

    monkeypatch.setattr(services._ProgressWriter, "write", spy)
    with scopes_disabled():
        run = ReportRun.objects.create(
            organization=tenant_a.organization, kind="stops", file_format="xlsx",
            period_start=START, period_end=START + dt.timedelta(days=DAYS - 1),
        )  # fmt: skip
    with tenant_context(tenant_a.organization):
        assert report_run_build(organization_id=tenant_a.organization.pk, run_id=run.pk)
    # 3 vans x 3 days: nine vehicle-days, each a step of 10 %, then the file.
    assert written == [10, 20, 30, 40, 50, 60, 70, 80, 90, 90]
    with scopes_disabled():
        run.refresh_from_db()
    assert (run.status, run.progress) == ("done", 100)
