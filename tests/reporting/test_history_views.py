"""The history page and its day JSON: shape, roles, tenant and hub scope, the organization's
local day (a DST day included), and the exports read back in their formats."""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET
import zoneinfo

import gpxpy
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from alerts.models import Alert
from deliveries.models import DeliveryEvent, Route
from fleet.models import Vehicle
from tenancy.models import Membership, Role
from tests.conftest import Tenant, login
from tests.factories import DeviceFactory, HubFactory
from tests.reporting.positions import positions_insert
from tests.reporting.tracks import TrackBuilder

pytestmark = pytest.mark.django_db

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
DAY = dt.date(2026, 6, 10)


def local(hour: int, minute: int = 0, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=AMSTERDAM)


def use_amsterdam(tenant: Tenant) -> None:
    tenant.organization.timezone = "Europe/Amsterdam"
    tenant.organization.save(update_fields=["timezone"])


def working_morning(start: dt.datetime) -> TrackBuilder:
    """Parked 10 min, 10 min of driving, parked 15 min, 5 min of driving, parked 10 min."""
    track = TrackBuilder(timestamp=start.timestamp())
    return track.park(600).drive(600, ignition=True).park(900).drive(300, ignition=True).park(600)


def url(tenant: Tenant, day: str = DAY.isoformat(), suffix: str = "track.json") -> str:
    return f"/history/vehicles/{tenant.vehicle.pk}/{day}/{suffix}"


def test_the_day_json_has_columns_trips_stops_and_events(tenant_a: Tenant) -> None:
    use_amsterdam(tenant_a)
    track = working_morning(local(8))
    positions_insert(tenant_a.device, track.fixes)
    assert tenant_a.order is not None
    with scopes_disabled():
        DeliveryEvent.objects.create(
            organization=tenant_a.organization,
            order=tenant_a.order,
            from_status="arrived",
            to_status="delivered",
            at=local(8, 30),
            source=DeliveryEvent.Source.DRIVER,
            latitude=52.37,
            longitude=4.9,
        )
        Alert.objects.create(
            organization=tenant_a.organization,
            kind="speeding",
            severity=2,
            subject_type="vehicle",
            subject_id=tenant_a.vehicle.pk,
            vehicle_id=tenant_a.vehicle.pk,
            title="Speeding 92 km/h",
            condition_started_at=local(8, 12),
            opened_at=local(8, 12),
            last_evaluated_at=local(8, 12),
        )
    response = login(tenant_a.users[Role.DISPATCHER]).get(url(tenant_a))
    assert response.status_code == 200
    body = response.json()
    fixes = body["fixes"]
    assert body["fixCount"] == len(track.fixes) == len(fixes["t"]) == len(fixes["lat"])
    assert set(fixes) == {"t", "lat", "lon", "speed", "heading", "ignition"}
    assert body["timezone"] == "Europe/Amsterdam"
    assert body["dayStart"] == local(0).timestamp()
    # Times are seconds from local midnight: the first fix came at 08:00:10.
    assert fixes["t"][0] == 8 * 3600 + 10
    assert body["vehicle"] == {
        "id": tenant_a.vehicle.pk,
        "plate": tenant_a.vehicle.plate,
        "hub": tenant_a.hub.name,
    }
    assert [round(t["distanceM"], -2) for t in body["trips"]] == [6000, 3000]
    assert len(body["stops"]) == 3
    assert body["summary"]["trips"] == 2
    kinds = [(e["kind"], e["t"]) for e in body["events"]]
    assert kinds == [("alert", 8 * 3600 + 12 * 60), ("delivered", 8 * 3600 + 30 * 60)]
    assert body["events"][1]["reference"] == tenant_a.order.reference


def test_the_day_json_loads_in_a_fixed_number_of_queries(tenant_a: Tenant) -> None:
    positions_insert(tenant_a.device, working_morning(local(8)).fixes)
    client = login(tenant_a.users[Role.MANAGER])
    client.get(url(tenant_a))  # warm the session and membership caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url(tenant_a)).status_code == 200
    data_queries = [q["sql"] for q in queries.captured_queries if "set_config" not in q["sql"]]
    assert len(data_queries) <= 10, data_queries


def test_the_local_day_follows_the_organization_across_a_dst_change(tenant_a: Tenant) -> None:
    """29 March 2026 in Amsterdam has 23 hours: from 23:00 UTC the day before to 22:00 UTC."""
    use_amsterdam(tenant_a)
    every_ten_minutes = [
        dt.datetime(2026, 3, 28, 22, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=10 * i)
        for i in range(6 * 26)
    ]
    from reporting.trips import Fix

    fixes = [Fix(moment.timestamp(), 52.37, 4.89, 0.0, False) for moment in every_ten_minutes]
    positions_insert(tenant_a.device, fixes)
    body = login(tenant_a.users[Role.SUPPORT]).get(url(tenant_a, "2026-03-29")).json()
    assert body["dayEnd"] - body["dayStart"] == 23 * 3600
    assert body["dayStart"] == dt.datetime(2026, 3, 28, 23, tzinfo=dt.UTC).timestamp()
    assert body["fixCount"] == 23 * 6
    assert body["fixes"]["t"][0] == 0 and body["fixes"]["t"][-1] == 23 * 3600 - 600
    # Europe/Amsterdam's autumn change makes a 25-hour day.
    autumn = login(tenant_a.users[Role.SUPPORT]).get(url(tenant_a, "2026-10-25")).json()
    assert autumn["dayEnd"] - autumn["dayStart"] == 25 * 3600


def test_a_foreign_vehicle_is_404_in_every_format(tenant_a: Tenant, tenant_b: Tenant) -> None:
    positions_insert(tenant_b.device, working_morning(local(8)).fixes)
    client = login(tenant_a.users[Role.ADMIN])
    for suffix in ("", "track.json", "track.gpx", "track.kml", "track.csv"):
        response = client.get(url(tenant_b, suffix=suffix))
        assert response.status_code == 404, suffix
        assert tenant_b.vehicle.plate not in response.content.decode()
    assert client.get(f"/history/vehicles/{tenant_b.vehicle.pk}/").status_code == 404
    assert client.get(f"/history/?vehicle={tenant_b.vehicle.pk}").status_code == 404


def test_drivers_and_strangers_cannot_open_history(tenant_a: Tenant) -> None:
    assert login(tenant_a.users[Role.DRIVER]).get(url(tenant_a)).status_code == 403
    from django.test import Client

    assert Client().get(url(tenant_a)).status_code == 302  # to the login page


@pytest.mark.parametrize(
    "day", ["2026-02-30", "2026-13-01", "1900-01-01", "9999-12-31", "2026-1-01", "today"]
)
def test_a_bad_day_is_404(tenant_a: Tenant, day: str) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    assert (
        client.get(f"/history/vehicles/{tenant_a.vehicle.pk}/{day}/track.json").status_code == 404
    )


def test_bad_picker_input_is_a_clean_answer(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    assert client.get("/history/?vehicle=abc").status_code == 404
    assert client.get("/history/?vehicle=" + "9" * 30).status_code == 404
    response = client.get(f"/history/?vehicle={tenant_a.vehicle.pk}&day=not-a-day")
    assert response.status_code == 302  # a bad day falls back to today
    assert response["Location"].startswith(f"/history/vehicles/{tenant_a.vehicle.pk}/")
    assert client.get(url(tenant_a, suffix="track.exe")).status_code == 404


def test_the_picker_goes_to_the_chosen_vehicle_and_day(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    response = client.get(f"/history/?vehicle={tenant_a.vehicle.pk}&day=2026-06-10")
    assert response["Location"] == f"/history/vehicles/{tenant_a.vehicle.pk}/2026-06-10/"
    page = client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert tenant_a.vehicle.plate in body and 'id="history-config"' in body
    assert 'href="/history/"' in client.get("/map/").content.decode()  # in the navigation


def test_hub_scoped_members_see_only_their_hubs_vehicles(tenant_a: Tenant) -> None:
    other_hub = HubFactory.create(organization=tenant_a.organization, name="Other hub")
    other = DeviceFactory.create(
        organization=tenant_a.organization, vehicle__plate="OTHER-01", vehicle__hub=other_hub
    )
    positions_insert(other, working_morning(local(8)).fixes)
    dispatcher = tenant_a.users[Role.DISPATCHER]
    with scopes_disabled():
        membership = Membership.objects.get(user=dispatcher)
        membership.hubs.set([tenant_a.hub])
        other_vehicle = Vehicle.objects.get(pk=other.vehicle_id)
    client = login(dispatcher)
    response = client.get(f"/history/vehicles/{other_vehicle.pk}/{DAY}/track.json")
    assert response.status_code == 404
    page = client.get(f"/history/vehicles/{tenant_a.vehicle.pk}/{DAY}/").content.decode()
    assert tenant_a.vehicle.plate in page and "OTHER-01" not in page
    # Unscoped colleagues see both.
    manager = login(tenant_a.users[Role.MANAGER])
    assert manager.get(f"/history/vehicles/{other_vehicle.pk}/{DAY}/track.json").status_code == 200


def test_only_this_vehicles_routes_give_delivery_events(tenant_a: Tenant) -> None:
    """An order on another vehicle's route is not on this vehicle's timeline."""
    assert tenant_a.order is not None
    with scopes_disabled():
        Route.objects.filter(organization=tenant_a.organization).update(vehicle=None)
        DeliveryEvent.objects.create(
            organization=tenant_a.organization,
            order=tenant_a.order,
            to_status="failed",
            at=local(9),
            source=DeliveryEvent.Source.DRIVER,
        )
    body = login(tenant_a.users[Role.DISPATCHER]).get(url(tenant_a)).json()
    assert body["events"] == [] and body["fixCount"] == 0


def test_the_exports_read_back_in_their_formats(tenant_a: Tenant) -> None:
    use_amsterdam(tenant_a)
    track = working_morning(local(8))
    positions_insert(tenant_a.device, track.fixes)
    client = login(tenant_a.users[Role.SUPPORT])

    gpx_response = client.get(url(tenant_a, suffix="track.gpx"))
    assert gpx_response["Content-Type"] == "application/gpx+xml"
    assert "attachment" in gpx_response["Content-Disposition"]
    gpx = gpxpy.parse(gpx_response.content.decode())
    points = gpx.tracks[0].segments[0].points
    assert len(points) == len(track.fixes)
    assert points[0].time == dt.datetime.fromtimestamp(track.fixes[0].timestamp, dt.UTC)
    assert points[0].latitude == pytest.approx(track.fixes[0].latitude)
    assert gpx.tracks[0].name == f"{tenant_a.vehicle.plate} {DAY.isoformat()}"

    # Our own export, parsed back: not untrusted input.
    kml = ET.fromstring(client.get(url(tenant_a, suffix="track.kml")).content)  # noqa: S314
    ns = {"kml": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}
    whens = kml.findall(".//gx:Track/kml:when", ns)
    coords = kml.findall(".//gx:Track/gx:coord", ns)
    assert len(whens) == len(coords) == len(track.fixes)
    lon, lat, _ = (float(v) for v in coords[0].text.split())  # type: ignore[union-attr]
    assert (lat, lon) == pytest.approx((track.fixes[0].latitude, track.fixes[0].longitude))

    rows = list(
        csv.reader(io.StringIO(client.get(url(tenant_a, suffix="track.csv")).content.decode()))
    )
    assert rows[0][:4] == ["vehicle", "time_utc", "time_local", "latitude"]
    assert len(rows) == len(track.fixes) + 1
    assert rows[1][2] == "2026-06-10T08:00:10+02:00"  # local time in the organization's zone
    assert float(rows[1][3]) == pytest.approx(track.fixes[0].latitude)


def test_the_csv_export_is_safe_from_formula_injection(tenant_a: Tenant) -> None:
    with scopes_disabled():
        Vehicle.objects.filter(pk=tenant_a.vehicle.pk).update(plate='=HYPERLINK("x")')
    positions_insert(tenant_a.device, working_morning(local(8)).fixes)
    body = login(tenant_a.users[Role.ADMIN]).get(url(tenant_a, suffix="track.csv")).content
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[1][0] == '\'=HYPERLINK("x")'
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)
