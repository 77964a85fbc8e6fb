"""Report kinds on crafted data (positions, orders, alerts) and their files: CSV, XLSX and PDF
parse back, and text that looks like a formula never becomes one."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from typing import Any

import openpyxl
import pytest
from django_scopes import scopes_disabled
from pypdf import PdfReader

from alerts.models import Alert
from deliveries.models import DeliveryEvent, Route, Stop
from fleet.models import Zone
from reporting.kpis.filters import KpiFilters
from reporting.reports.files import report_csv, report_pdf, report_xlsx
from reporting.reports.services import report_table_build
from tenancy.context import tenant_context
from tests.alerts.factories import alert_open
from tests.conftest import Tenant
from tests.deliveries.builders import order_build
from tests.reporting.positions import positions_insert
from tests.reporting.tracks import TrackBuilder

pytestmark = pytest.mark.django_db
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
DAY = dt.date(2026, 6, 10)
EIGHT_AM = dt.datetime.combine(DAY, dt.time(8), tzinfo=AMSTERDAM)


def build(tenant: Tenant, kind: str, **filters: Any) -> Any:
    with tenant_context(tenant.organization):
        return report_table_build(
            organization_id=tenant.organization.pk,
            kind=kind,
            filters=KpiFilters(start=DAY, end=DAY, **filters),
        )


def rows_as_dicts(table: Any) -> list[dict[str, Any]]:
    keys = [column.key for column in table.columns]
    return [dict(zip(keys, row, strict=True)) for row in table.rows]


@pytest.fixture
def crafted_day(tenant_a: Tenant) -> Tenant:
    """Alpha's van on 10 June 2026 (Amsterdam): parked from 08:00 for 30 min, drives 10 min at
    36 km/h, 2 min at 108 km/h (speeding: the threshold is 90), 5 min at 36 km/h, then idles
    20 min with the engine on inside the zone "Depot yard", then drives 10 min and parks."""
    organization = tenant_a.organization
    organization.timezone = "Europe/Amsterdam"
    organization.save(update_fields=["timezone"])
    track = TrackBuilder(timestamp=EIGHT_AM.timestamp(), latitude=52.37, longitude=4.89)
    track.park(1800, ignition=False)
    track.drive(600, kmh=36, ignition=True).drive(120, kmh=108, ignition=True)
    track.drive(300, kmh=36, ignition=True)
    yard_lat, yard_lon, idle_start = track.latitude, track.longitude, track.timestamp
    track.park(1200, ignition=True)
    track.drive(600, kmh=36, ignition=True).park(1800, ignition=False)
    positions_insert(tenant_a.device, track.fixes)
    d = 0.002  # about 200 m around the idling point
    with scopes_disabled():
        Zone.objects.create(
            organization=organization, name="Depot yard", hub=tenant_a.hub,
            geometry={"type": "Polygon", "coordinates": [[
                [yard_lon - d, yard_lat - d], [yard_lon + d, yard_lat - d],
                [yard_lon + d, yard_lat + d], [yard_lon - d, yard_lat + d],
                [yard_lon - d, yard_lat - d],
            ]]},
        )  # fmt: skip
    tenant_a.idle_start = idle_start  # type: ignore[attr-defined]
    return tenant_a


def test_trips_stops_speeding_and_geofence_visits_of_a_crafted_day(crafted_day: Tenant) -> None:
    plate = crafted_day.vehicle.plate
    trips = rows_as_dicts(build(crafted_day, "trips"))
    assert [t["vehicle"] for t in trips] == [plate, plate]
    # 10 min at 36 km/h = 6 km, 2 min at 108 = 3.6 km, 5 min at 36 = 3 km: 12.6 km, then 6 km.
    assert trips[0]["distance_km"] == pytest.approx(12.6, abs=0.1)
    assert trips[1]["distance_km"] == pytest.approx(6.0, abs=0.1)
    assert trips[0]["max_speed_kmh"] == 108.0
    assert (
        trips[0]["start"].astimezone(AMSTERDAM).strftime("%H:%M:%S") == "08:30:00"
    )  # the last parked fix

    stops = rows_as_dicts(build(crafted_day, "stops"))
    engines = [s["engine"] for s in stops]
    assert engines == ["parked", "idling", "parked"]
    assert stops[1]["duration_min"] == pytest.approx(20.0, abs=0.4)

    speeding = rows_as_dicts(build(crafted_day, "speeding"))
    assert len(speeding) == 1
    assert speeding[0]["max_speed_kmh"] == 108.0 and speeding[0]["threshold_kmh"] == 90.0
    assert speeding[0]["duration_s"] == pytest.approx(110, abs=10)  # 12 fixes, 10 s apart

    with scopes_disabled():
        yard = Zone.objects.get(name="Depot yard")
    visits = rows_as_dicts(build(crafted_day, "geofence_visits", zone_ids=(yard.pk,)))
    assert [v["zone"] for v in visits] == ["Depot yard"]
    assert visits[0]["duration_min"] == pytest.approx(20.0, abs=1.0)
    idle_start = dt.datetime.fromtimestamp(crafted_day.idle_start, dt.UTC)  # type: ignore[attr-defined]
    assert abs((visits[0]["entered"] - idle_start).total_seconds()) <= 60


def test_the_day_is_the_organizations_and_filters_narrow_it(crafted_day: Tenant) -> None:
    with tenant_context(crafted_day.organization):
        next_day = report_table_build(
            organization_id=crafted_day.organization.pk,
            kind="trips",
            filters=KpiFilters(start=DAY + dt.timedelta(days=1), end=DAY + dt.timedelta(days=1)),
        )
    assert next_day.rows == []
    assert build(crafted_day, "trips", vehicle_ids=(crafted_day.vehicle.pk + 1000,)).rows == []
    assert build(crafted_day, "trips", driver_ids=(crafted_day.driver.pk,)).rows
    every_zone = {row[0] for row in build(crafted_day, "geofence_visits").rows}
    assert every_zone == {"Depot yard", crafted_day.zone.name}  # the factory's zone holds 08:00
    only = build(crafted_day, "geofence_visits", zone_ids=(crafted_day.zone.pk,)).rows
    assert {row[0] for row in only} == {crafted_day.zone.name}


def test_deliveries_against_their_window_by_the_events_time(tenant_a: Tenant) -> None:
    """A delivery one minute inside its window is on time, one a minute after it is late,
    whatever the order row's update time says."""
    organization = tenant_a.organization
    organization.timezone = "Europe/Amsterdam"
    organization.save(update_fields=["timezone"])
    window_start = dt.datetime.combine(DAY, dt.time(10), tzinfo=AMSTERDAM)
    window_end = window_start + dt.timedelta(hours=2)
    route = tenant_a.delivery_objects[Route]
    at = {
        "INSIDE-1": window_end - dt.timedelta(minutes=1),
        "OUTSIDE-1": window_end + dt.timedelta(minutes=1),
    }
    for sequence, (reference, moment) in enumerate(at.items(), start=5):
        order = order_build(
            organization, tenant_a.hub, reference=reference,
            window_start=window_start, window_end=window_end,
        )  # fmt: skip
        with scopes_disabled():
            Stop.objects.create(
                organization=organization, route=route, sequence=sequence, order=order
            )
            DeliveryEvent.objects.create(
                organization=organization, order=order, from_status="arrived",
                to_status="delivered", at=moment, source="driver",
            )  # fmt: skip
    rows = rows_as_dicts(build(tenant_a, "deliveries"))
    verdicts = {row["order"]: row["window"] for row in rows}
    assert verdicts == {"INSIDE-1": "on time", "OUTSIDE-1": "late"}
    assert {row["vehicle"] for row in rows} == {tenant_a.vehicle.plate}


def test_exceptions_time_to_acknowledge_and_resolve(tenant_a: Tenant) -> None:
    tenant_a.organization.timezone = "Europe/Amsterdam"
    tenant_a.organization.save(update_fields=["timezone"])
    opened = dt.datetime.combine(DAY, dt.time(9), tzinfo=AMSTERDAM)
    alert = alert_open(
        tenant_a.organization.pk, title="Fast van", vehicle_id=tenant_a.vehicle.pk,
        hub_id=tenant_a.hub.pk, opened_at=opened, emit=False,
    )  # fmt: skip
    with scopes_disabled():
        Alert.objects.filter(pk=alert.pk).update(
            acknowledged_at=opened + dt.timedelta(minutes=4),
            resolved_at=opened + dt.timedelta(minutes=31), status="resolved",
        )  # fmt: skip
    rows = rows_as_dicts(build(tenant_a, "exceptions"))
    assert len(rows) == 1
    assert rows[0]["vehicle"] == tenant_a.vehicle.plate
    assert (rows[0]["minutes_to_acknowledge"], rows[0]["minutes_to_resolve"]) == (4.0, 31.0)


HOSTILE = ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tTab", "plain"]


@pytest.fixture
def hostile_table(tenant_a: Tenant) -> Any:
    """An exceptions report whose alert titles are formulas."""
    tenant_a.organization.timezone = "Europe/Amsterdam"
    tenant_a.organization.save(update_fields=["timezone"])
    opened = dt.datetime.combine(DAY, dt.time(9), tzinfo=AMSTERDAM)
    for i, title in enumerate(HOSTILE):
        alert_open(
            tenant_a.organization.pk, title=title, vehicle_id=tenant_a.vehicle.pk,
            opened_at=opened + dt.timedelta(minutes=i), emit=False,
        )  # fmt: skip
    return build(tenant_a, "exceptions")


def test_csv_parses_back_and_neutralises_formulas(hostile_table: Any) -> None:
    text = report_csv(hostile_table).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Opened", "Kind", "Severity", "Alert"]
    titles = [row[3] for row in rows[1:]]
    assert titles == ["'" + t if t != "plain" else t for t in HOSTILE]
    assert rows[1][0].startswith("2026-06-10T09:00:00+02:00")  # local time, with its offset


def test_xlsx_parses_back_and_holds_formulas_as_text(hostile_table: Any) -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(report_xlsx(hostile_table)))
    sheet = workbook["exceptions"]
    assert [c.value for c in sheet[1]][:4] == ["Opened", "Kind", "Severity", "Alert"]
    cells = [sheet.cell(row=r, column=4) for r in range(2, 2 + len(HOSTILE))]
    assert [c.value for c in cells] == HOSTILE
    assert all(c.data_type == "s" for c in cells)  # strings, never formulas ("f")
    assert [c.quotePrefix for c in cells] == [True, True, True, True, True, False]
    assert sheet.cell(row=2, column=1).value == dt.datetime(2026, 6, 10, 9, 0)  # local wall time
    about = {row[0].value: row[1].value for row in workbook["About"].iter_rows()}
    assert about["Times in"] == "Europe/Amsterdam"


def test_pdf_parses_back_with_its_chart_and_rows(crafted_day: Tenant) -> None:
    table = build(crafted_day, "trips")
    reader = PdfReader(io.BytesIO(report_pdf(table)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Trips report" in text
    assert "Distance driven by vehicle (km)" in text  # the chart's title
    assert crafted_day.vehicle.plate in text
    assert "times in Europe/Amsterdam" in text
    assert reader.metadata is not None and reader.metadata.title == "Trips"


def test_an_empty_report_still_makes_files(tenant_a: Tenant) -> None:
    table = build(tenant_a, "speeding")
    assert table.rows == []
    assert (
        "No rows in this period."
        in PdfReader(io.BytesIO(report_pdf(table))).pages[0].extract_text()
    )
    assert openpyxl.load_workbook(io.BytesIO(report_xlsx(table)))["speeding"].max_row == 1


def _run_csv(tenant: Tenant, kind: str, day: dt.date) -> list[dict[str, str]]:
    """A run built by the export service (which rolls the closed days up first), read back."""
    from reporting.models import ReportRun
    from reporting.reports.services import report_run_build

    with scopes_disabled():
        run = ReportRun.objects.create(
            organization=tenant.organization, kind=kind, file_format="csv",
            period_start=day, period_end=day,
        )  # fmt: skip
    with tenant_context(tenant.organization):
        assert report_run_build(organization_id=tenant.organization.pk, run_id=run.pk)
    with scopes_disabled():
        run.refresh_from_db()
    assert run.status == "done" and run.progress == 100
    with run.file.open("rb") as handle:
        return list(csv.DictReader(io.StringIO(handle.read().decode("utf-8-sig"))))


def test_summary_and_eta_accuracy_lay_out_the_kpis_of_a_hand_computed_day(
    tenant_a: Tenant,
) -> None:
    """The KPI tests' DST day (tests/reporting/test_kpis.py, answers by hand): three deliveries,
    one failure, one of two windowed deliveries on time, 6.0 km; the ETA was 5 min early 60 min
    before arrival and 3 min late at 30 and 10 min."""
    from tests.reporting.test_kpis import DAY as DST_DAY
    from tests.reporting.test_kpis import _day_build

    _day_build(tenant_a)
    (vehicle,) = _run_csv(tenant_a, "summary", DST_DAY)  # rolled up by the run itself
    assert vehicle["Vehicle"] == tenant_a.vehicle.plate
    assert float(vehicle["Distance (km)"]) == pytest.approx(6.0, abs=0.1)
    assert (vehicle["Deliveries"], vehicle["Failures"]) == ("3.0", "1.0")
    assert vehicle["On time (%)"] == "50.0"
    horizons = {
        row["Minutes before arrival"]: row for row in _run_csv(tenant_a, "eta_accuracy", DST_DAY)
    }
    assert set(horizons) == {"60", "30", "10"}
    assert horizons["60"]["Mean error (min)"] == "-5.0"
    assert horizons["30"]["Mean error (min)"] == "3.0"
    assert horizons["10"]["Predictions"] == "1"
