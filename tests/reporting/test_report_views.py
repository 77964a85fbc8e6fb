"""The console's reports pages and the reports API: rows on the page and in the JSON are the
report's; exports become runs whose file only their organization can download; foreign ids
anywhere are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from reporting.models import ReportRun, ReportSchedule
from reporting.reports.services import report_run_build
from tenancy.context import tenant_context
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import api_token_of
from tests.reporting.test_report_kinds import DAY, crafted_day  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db
QUERY = f"kind=trips&start={DAY}&end={DAY}"


def test_the_page_shows_the_reports_rows(crafted_day: Tenant) -> None:  # noqa: F811
    client = login(crafted_day.users[Role.MANAGER])
    response = client.get(f"/reports/?{QUERY}")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Trips · 2026-06-10" in body
    assert 'data-testid="report-count">2 rows' in body
    assert crafted_day.vehicle.plate in body
    assert "12.60" in body  # the first trip's kilometres


def test_the_page_without_a_kind_and_with_bad_input(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    assert 'data-testid="report-start"' in client.get("/reports/").content.decode()
    assert client.get("/reports/?kind=nope").status_code == 400
    bad = client.get("/reports/?kind=trips&start=2026-06-10&end=2026-06-01")
    assert bad.status_code == 400 and "ends before it starts" in bad.content.decode()
    assert client.get("/reports/?kind=trips&start=2026-02-30").status_code == 400
    assert client.get("/reports/?kind=trips&vehicle=99999999999999999999999").status_code == 400
    empty = client.get(f"/reports/?{QUERY}").content.decode()
    assert 'data-testid="report-empty"' in empty


def test_drivers_may_not_use_reports(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.DRIVER])
    for url in ("/reports/", "/reports/archive/", "/reports/schedules/"):
        assert client.get(url).status_code == 403
    support = login(tenant_a.users[Role.SUPPORT])
    assert support.get("/reports/schedules/").status_code == 403


def test_an_export_becomes_a_run_whose_file_downloads(crafted_day: Tenant) -> None:  # noqa: F811
    user = crafted_day.users[Role.MANAGER]
    client = login(user)
    response = client.post(
        "/reports/runs/",
        {"kind": "trips", "start": DAY, "end": DAY, "file_format": "csv"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    with scopes_disabled():
        run = ReportRun.objects.get(requested_by=user)
    assert 'hx-trigger="every 1s"' in response.content.decode()  # the progress bar polls
    assert run.status == "queued" and (run.period_start, run.period_end) == (DAY, DAY)
    with tenant_context(crafted_day.organization):
        assert report_run_build(organization_id=run.organization_id, run_id=run.pk)
    status = client.get(f"/reports/runs/{run.pk}/").content.decode()
    assert "Download" in status and "every 1s" not in status
    download = client.get(f"/reports/runs/{run.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="trips-2026-06-10.csv"'
    body = b"".join(download.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    assert body.count(crafted_day.vehicle.plate) == 2
    # Drivers do not read reports (another organization's users: the cross-tenant harness).
    assert (
        login(crafted_day.users[Role.DRIVER]).get(f"/reports/runs/{run.pk}/download/").status_code
        == 403
    )


def test_exports_with_foreign_ids_are_refused(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.MANAGER])
    for field, foreign in (
        ("hub", tenant_b.hub.pk),
        ("vehicle", tenant_b.vehicle.pk),
        ("driver", tenant_b.driver.pk),
        ("zone", tenant_b.zone.pk),
    ):
        response = client.post(
            "/reports/runs/",
            {"kind": "trips", "file_format": "csv", field: foreign},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 400, field
    with scopes_disabled():
        assert not ReportRun.objects.filter(organization=tenant_a.organization).exclude(
            pk=tenant_a.report_objects[ReportRun].pk
        )


def test_a_foreign_schedule_cannot_be_edited_or_deleted(tenant_a: Tenant, tenant_b: Tenant) -> None:
    schedule = tenant_b.report_objects[ReportSchedule]
    client = login(tenant_a.users[Role.ADMIN])
    assert client.post(f"/reports/schedules/{schedule.pk}/delete/").status_code == 404
    assert client.post(f"/reports/schedules/{schedule.pk}/", {"name": "x"}).status_code == 404
    with scopes_disabled():
        assert ReportSchedule.objects.filter(pk=schedule.pk, name=schedule.name).exists()


def test_schedules_page_creates_validates_and_deletes(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.MANAGER])
    form: dict[str, Any] = {
        "name": "Morning trips", "kind": "trips", "frequency": "daily", "file_format": "pdf",
        "recipients": "ops@example.com, boss@example.com", "enabled": "on",
        "hub_ids": [tenant_a.hub.pk],
    }  # fmt: skip
    bad = client.post("/reports/schedules/", {**form, "recipients": "not an address"})
    assert bad.status_code == 400 and "is not an email address" in bad.content.decode()
    foreign = client.post("/reports/schedules/", {**form, "hub_ids": [tenant_b.hub.pk]})
    assert foreign.status_code == 400 and "Select a valid choice" in foreign.content.decode()
    assert client.post("/reports/schedules/", form).status_code == 302
    with scopes_disabled():
        schedule = ReportSchedule.objects.get(name="Morning trips")
    assert schedule.organization_id == tenant_a.organization.pk
    assert schedule.recipients == "ops@example.com\nboss@example.com"
    assert schedule.hub_ids == [tenant_a.hub.pk]
    assert "Morning trips" in client.get("/reports/schedules/").content.decode()
    assert client.post(f"/reports/schedules/{schedule.pk}/delete/").status_code == 302
    with scopes_disabled():
        assert not ReportSchedule.objects.filter(pk=schedule.pk).exists()


def test_the_archive_lists_the_organizations_runs(tenant_a: Tenant, tenant_b: Tenant) -> None:
    body = login(tenant_a.users[Role.SUPPORT]).get("/reports/archive/").content.decode()
    assert "Alphaschedule Weekly" in body and "Bravoschedule Weekly" not in body
    run = tenant_a.report_objects[ReportRun]
    assert f"/reports/runs/{run.pk}/download/" in body


def test_the_api_answers_the_same_rows_as_json(crafted_day: Tenant) -> None:  # noqa: F811
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token_of('Alpha')}")
    response = client.get(f"/api/v1/reports/trips/?start={DAY}&end={DAY}")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2 and data["timezone"] == "Europe/Amsterdam"
    assert [c["key"] for c in data["columns"]][:3] == ["vehicle", "driver", "day"]
    first = data["results"][0]
    assert first["vehicle"] == crafted_day.vehicle.plate
    assert first["distance_km"] == pytest.approx(12.6, abs=0.1)
    assert first["start"] == "2026-06-10T08:30:00+02:00"
    paged = client.get(f"/api/v1/reports/trips/?start={DAY}&end={DAY}&limit=1&offset=1").json()
    assert paged["count"] == 2 and len(paged["results"]) == 1
    assert paged["results"][0] == data["results"][1]
    kinds = client.get("/api/v1/reports/").json()
    assert {k["kind"] for k in kinds} >= {"trips", "stops", "deliveries", "speeding"}


def test_the_api_refuses_foreign_ids_and_unknown_kinds(tenant_a: Tenant, tenant_b: Tenant) -> None:
    for client in (
        Client(HTTP_AUTHORIZATION=f"Token {api_token_of('Alpha')}"),
        login(tenant_a.users[Role.MANAGER]),
    ):
        assert client.get("/api/v1/reports/nope/").status_code == 404
        response = client.get(f"/api/v1/reports/trips/?vehicle={tenant_b.vehicle.pk}")
        assert response.status_code == 400
        assert response.json()["detail"] == "Invalid input: vehicle."  # RFC 9457 problem
        assert tenant_b.vehicle.plate not in response.content.decode()
        assert client.get("/api/v1/reports/trips/?start=yesterday").status_code == 400
        assert client.get("/api/v1/reports/trips/?limit=0").status_code == 400


def test_the_report_task_acts_for_its_organization_only(tenant_a: Tenant, tenant_b: Tenant) -> None:
    """A's build task with B's run id claims nothing and writes nothing."""
    from reporting.reports.tasks import report_run_build_task, report_run_email_task

    with scopes_disabled():
        run = ReportRun.objects.create(
            organization=tenant_b.organization, kind="trips", file_format="csv",
            period_start=DAY, period_end=DAY,
        )  # fmt: skip
    assert report_run_build_task(tenant_a.organization.pk, run.pk) is False
    assert report_run_email_task(tenant_a.organization.pk, run.pk) is False
    with scopes_disabled():
        run.refresh_from_db()
    assert run.status == "queued" and not run.file


def test_the_period_defaults_to_the_kpi_slices_last_30_days(tenant_a: Tenant) -> None:
    body = login(tenant_a.users[Role.MANAGER]).get("/reports/?kind=idle").content.decode()
    today = dt.datetime.now(dt.UTC).date()  # the organization's zone is UTC
    period = f"{today - dt.timedelta(days=29)} to {today}"
    assert f"Idle time · {period}" in body
