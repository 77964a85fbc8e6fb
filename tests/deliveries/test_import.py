"""Order import from CSV and XLSX: every bad row shown with its reason, then all valid rows or
nothing, with the stored preview bound to its organization and user."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django_scopes import scopes_disabled
from openpyxl import Workbook

from deliveries.models import DeliveryEvent, Order
from deliveries.services import imports
from fleet.models import Hub
from tenancy.context import tenant_context
from tenancy.models import Membership, Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import order_build
from tests.factories import HubFactory

pytestmark = pytest.mark.django_db

HEADER = [
    "reference",
    "customer_name",
    "address",
    "latitude",
    "longitude",
    "window_start",
    "window_end",
    "hub",
    "email",
    "priority",
    "weight_kg",
    "service_minutes",
    "tracking_code",
]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()  # this run's own Redis database (REDIS_URL), never another engineer's


def row(**values: Any) -> list[Any]:
    good: dict[str, Any] = {
        "customer_name": "Ann Example",
        "address": "Damrak 1",
        "latitude": "52.37",
        "longitude": "4.89",
        "window_start": "2026-12-01 09:00",
        "window_end": "2026-12-01 12:00",
        "hub": "alpha-hub",
        "email": "",
        "priority": "",
        "weight_kg": "",
        "service_minutes": "",
        "tracking_code": "",
    }
    good.update(values)
    return [good.get(column, "") for column in HEADER]


def csv_bytes(rows: list[list[Any]], header: list[str] = HEADER, delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def upload(client: Client, name: str, data: bytes, **extra: Any) -> Any:
    file = io.BytesIO(data)
    file.name = name
    return client.post("/orders/import/", {"file": file, **extra})


def preview_token(response: Any) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    match = re.search(r"preview=([A-Za-z0-9_-]+)", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def problems(body: str) -> set[tuple[int, str]]:
    """(row, column) of every problem listed in the preview's error table."""
    cells = re.findall(r'<td class="num tabular">(\d+)</td><td class="mono">([a-z_]+)</td>', body)
    return {(int(number), column) for number, column in cells}


BAD_ROWS: list[tuple[dict[str, Any], str, str]] = [
    ({"customer_name": ""}, "customer_name", "This field cannot be blank."),
    ({"address": ""}, "address", "This field cannot be blank."),
    ({"latitude": "95"}, "latitude", "less than or equal to 90"),
    ({"latitude": "north"}, "latitude", "Not a number."),
    ({"longitude": ""}, "latitude", "Give both latitude and longitude"),
    ({"latitude": "", "longitude": ""}, "latitude", "no geocoder is configured"),
    ({"window_end": "2026-12-01 08:00"}, "window_end", "must end after it starts"),
    ({"window_start": "tomorrow"}, "window_start", "Not a date and time"),
    ({"window_start": "2026-12-01"}, "window_start", "Give a date and a time"),
    ({"hub": "nowhere"}, "hub", "No hub with code “nowhere”"),
    ({"hub": "bravo-hub"}, "hub", "No hub with code “bravo-hub”"),
    ({"email": "not-an-email"}, "email", "Enter a valid email address."),
    ({"priority": "asap"}, "priority", "Use normal, high or urgent"),
    ({"weight_kg": "-2"}, "weight_kg", "greater than or equal to 0"),
    ({"service_minutes": "300"}, "service_minutes", "less than or equal to 240"),
    ({"service_minutes": "2.5"}, "service_minutes", "Give a whole number."),
    ({"tracking_code": "short"}, "tracking_code", "Use 16 to 32 letters"),
    ({"reference": "ALPHAORDER-0001"}, "reference", "already exists"),
]


def test_import_with_bad_rows_shows_every_bad_row_with_its_reason(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    rows = [row(reference="GOOD-1"), row(reference="GOOD-2", priority="urgent")]
    for number, (values, _, _) in enumerate(BAD_ROWS):
        rows.append(row(**{"reference": f"BAD-{number}", **values}))
    rows.append(row(reference="GOOD-1"))  # a duplicate inside the file
    client = login(tenant_a.users[Role.DISPATCHER])
    token = preview_token(upload(client, "orders.csv", csv_bytes(rows)))

    body = client.get("/orders/import/", {"preview": token}).content.decode()

    expected = {(index + 4, column) for index, (_, column, _) in enumerate(BAD_ROWS)}
    duplicate_row = len(rows) + 1
    expected.add((duplicate_row, "reference"))
    assert problems(body) == expected
    for _, _, message in BAD_ROWS:
        assert message in body
    assert "Reference “GOOD-1” already appears in row 2." in body
    assert 'data-testid="rows-total">21<' in body
    assert 'data-testid="rows-valid">2<' in body
    assert 'data-testid="rows-bad">19<' in body
    assert "Import 2 valid rows" in body and "Cancel (import nothing)" in body
    assert tenant_b.hub.name not in body  # a foreign hub code is "no such hub", nothing more
    with scopes_disabled():
        assert not Order.objects.filter(reference__startswith="GOOD-").exists()


def test_importing_the_valid_rows_creates_them_with_their_created_event(
    tenant_a: Tenant,
) -> None:
    organization = tenant_a.organization
    organization.timezone = "Europe/Amsterdam"
    organization.save()
    rows = [
        row(reference="IMP-1", priority="high", weight_kg="2,5", service_minutes="7"),
        row(reference="IMP-2", window_start="2026-12-01T09:00:00+00:00", window_end=""),
        row(reference="IMP-3", latitude=""),  # bad: half a position
    ]
    client = login(tenant_a.users[Role.DISPATCHER])
    token = preview_token(upload(client, "orders.csv", csv_bytes(rows, delimiter=";")))

    response = client.post("/orders/import/commit/", {"token": token, "action": "import"})

    assert response.status_code == 302 and response["Location"] == "/orders/"
    with scopes_disabled():
        orders = {o.reference: o for o in Order.objects.filter(reference__startswith="IMP-")}
        assert set(orders) == {"IMP-1", "IMP-2"}
        first = orders["IMP-1"]
        # "09:00" is read in the organization's zone (CET in December): 08:00 UTC.
        assert first.window_start == dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
        assert first.window_end == dt.datetime(2026, 12, 1, 11, 0, tzinfo=dt.UTC)
        assert (first.priority, first.weight_kg, first.service_minutes) == (1, 2.5, 7)
        assert first.hub_id == tenant_a.hub.pk and first.organization_id == organization.pk
        assert orders["IMP-2"].window_start == dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
        assert len(first.tracking_code) >= 20
        assert first.tracking_code != orders["IMP-2"].tracking_code
        events = list(DeliveryEvent.objects.filter(order__in=orders.values()))
    assert len(events) == 2
    assert {(e.to_status, e.source, e.actor_id) for e in events} == {
        ("created", "console", tenant_a.users[Role.DISPATCHER].pk)
    }
    # The preview is used up: posting it again imports nothing twice.
    again = client.post("/orders/import/commit/", {"token": token, "action": "import"})
    assert again.status_code == 302
    with scopes_disabled():
        assert Order.objects.filter(reference__startswith="IMP-").count() == 2


def test_cancel_imports_nothing_and_discards_the_preview(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.MANAGER])
    token = preview_token(upload(client, "orders.csv", csv_bytes([row(reference="CANCEL-1")])))

    response = client.post("/orders/import/commit/", {"token": token, "action": "cancel"})

    assert response.status_code == 302
    assert "nothing was imported" in client.get("/orders/import/").content.decode()
    client.post("/orders/import/commit/", {"token": token, "action": "import"})
    with scopes_disabled():
        assert not Order.objects.filter(reference="CANCEL-1").exists()
    body = client.get("/orders/import/", {"preview": token}).content.decode()
    assert "expired or was already used" in body


def xlsx_bytes(rows: list[list[Any]], header: list[str]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_typed_cells_and_bad_rows(tenant_a: Tenant) -> None:
    header = ["Reference", "Customer", "Address", "Lat", "Lng", "From", "To", "Hub code", "Extra"]
    start = dt.datetime(2026, 12, 1, 9, 0)  # a naive Excel date-time: the org's zone (UTC)
    rows: list[list[Any]] = [
        [
            1001,
            "Xl One",
            "Singel 2",
            52.37,
            4.88,
            start,
            start + dt.timedelta(hours=2),
            "alpha-hub",
            "x",
        ],
        [1002, "Xl Two", "Singel 3", "abc", 4.88, start, None, "alpha-hub", None],
        [
            1003,
            "Xl Three",
            "Singel 4",
            52.37,
            4.88,
            start,
            start - dt.timedelta(hours=1),
            "alpha-hub",
            None,
        ],
        [None, None, None, None, None, None, None, None, None],  # blank rows are skipped
        [1001, "Xl Dup", "Singel 5", 52.37, 4.88, None, None, "alpha-hub", None],
    ]
    client = login(tenant_a.users[Role.ADMIN])
    token = preview_token(upload(client, "orders.xlsx", xlsx_bytes(rows, header)))

    body = client.get("/orders/import/", {"preview": token}).content.decode()

    assert problems(body) == {(3, "latitude"), (4, "window_end"), (6, "reference")}
    assert "Ignored column(s): extra." in body
    client.post("/orders/import/commit/", {"token": token, "action": "import"})
    with scopes_disabled():
        order = Order.objects.get(organization=tenant_a.organization, reference="1001")
    assert order.customer_name == "Xl One"
    assert order.window_start == dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    with scopes_disabled():
        assert not Order.objects.filter(reference__in=["1002", "1003"]).exists()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("orders.pdf", b"%PDF-1.4", "Upload a .csv or .xlsx file."),
        ("orders.xlsx", b"not a zip at all", "not a readable XLSX workbook"),
        ("orders.csv", b"", "The submitted file is empty."),
        ("orders.csv", b"reference,address\nR-1,Street 1\n", "Missing column(s): customer_name"),
    ],
)
def test_unusable_files_are_refused_as_a_whole(
    tenant_a: Tenant, name: str, data: bytes, message: str
) -> None:
    response = upload(login(tenant_a.users[Role.DISPATCHER]), name, data)
    assert response.status_code == 200
    assert message in response.content.decode()


def test_too_many_rows_and_too_big_files_are_refused(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    many = csv_bytes([row(reference=f"M-{n}") for n in range(imports.MAX_ROWS + 1)])
    body = upload(client, "many.csv", many).content.decode()
    assert "more than 10,000 rows" in body
    big = b"reference,customer_name,address,hub\n" + b"x" * imports.MAX_BYTES
    assert "larger than 5 MB" in upload(client, "big.csv", big).content.decode()
    with scopes_disabled():
        assert not Order.objects.filter(reference__startswith="M-").exists()


def test_foreign_hub_codes_and_hubs_outside_the_users_scope_are_refused(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    other = HubFactory.create(organization=tenant_a.organization, name="Other", code="other-hub")
    with scopes_disabled():
        membership = Membership.objects.get(user=tenant_a.users[Role.DISPATCHER])
        membership.hubs.set([tenant_a.hub])
    rows = [
        row(reference="H-1"),
        row(reference="H-2", hub=tenant_b.hub.code),
        row(reference="H-3", hub=other.code),
        row(reference="H-4", hub=""),
    ]
    client = login(tenant_a.users[Role.DISPATCHER])
    body = client.get(
        "/orders/import/", {"preview": preview_token(upload(client, "h.csv", csv_bytes(rows)))}
    ).content.decode()
    assert problems(body) == {(3, "hub"), (4, "hub"), (5, "hub")}
    assert "Hub “other-hub” is not one of your hubs." in body
    assert tenant_b.hub.name not in body
    # A default hub fills the empty cell, but only one of the user's hubs may be chosen.
    form_page = client.get("/orders/import/").content.decode()
    assert tenant_a.hub.name in form_page and "Other (other-hub)" not in form_page
    refused = upload(client, "h.csv", csv_bytes(rows), default_hub=other.pk)
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    token = preview_token(upload(client, "h.csv", csv_bytes(rows), default_hub=tenant_a.hub.pk))
    body = client.get("/orders/import/", {"preview": token}).content.decode()
    assert problems(body) == {(3, "hub"), (4, "hub")}


def test_a_stored_preview_is_bound_to_its_organization_and_user(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    owner = login(tenant_a.users[Role.DISPATCHER])
    token = preview_token(upload(owner, "o.csv", csv_bytes([row(reference="SECRET-REF-9")])))
    for intruder in (tenant_b.users[Role.DISPATCHER], tenant_a.users[Role.MANAGER]):
        client = login(intruder)
        body = client.get("/orders/import/", {"preview": token}).content.decode()
        assert "expired or was already used" in body and "SECRET-REF-9" not in body
        client.post("/orders/import/commit/", {"token": token, "action": "import"})
        client.post("/orders/import/commit/", {"token": token, "action": "cancel"})
    with scopes_disabled():
        assert not Order.objects.filter(reference="SECRET-REF-9").exists()
    # Neither intruder could use nor discard it: the owner still can.
    owner.post("/orders/import/commit/", {"token": token, "action": "import"})
    with scopes_disabled():
        order = Order.objects.get(reference="SECRET-REF-9")
    assert order.organization_id == tenant_a.organization.pk


def test_a_reference_taken_after_the_preview_imports_nothing(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    rows = [row(reference="RACE-1"), row(reference="RACE-2")]
    token = preview_token(upload(client, "r.csv", csv_bytes(rows)))
    order_build(tenant_a.organization, tenant_a.hub, reference="RACE-2")

    response = client.post("/orders/import/commit/", {"token": token, "action": "import"})

    assert response.status_code == 302
    assert "Nothing was imported" in client.get("/orders/import/").content.decode()
    with scopes_disabled():
        assert not Order.objects.filter(reference="RACE-1").exists()


def test_the_template_round_trips(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    response = client.get("/orders/import/template.csv")
    assert response["Content-Type"].startswith("text/csv")
    template = response.content.decode().replace("main-hub", tenant_a.hub.code)
    assert template.splitlines()[0] == ",".join(imports.COLUMNS)
    token = preview_token(upload(client, "template.csv", template.encode()))
    body = client.get("/orders/import/", {"preview": token}).content.decode()
    assert 'data-testid="rows-valid">1<' in body and "Every row is valid." in body


@pytest.mark.parametrize("role", [Role.SUPPORT, Role.DRIVER])
def test_support_and_drivers_cannot_import(tenant_a: Tenant, role: str) -> None:
    client = login(tenant_a.users[role])
    assert client.get("/orders/import/").status_code == 403
    assert client.get("/orders/import/template.csv").status_code == 403
    response = upload(client, "orders.csv", csv_bytes([row(reference="ROLE-1")]))
    assert response.status_code == 403
    assert client.post("/orders/import/commit/", {"token": "x" * 20}).status_code == 403


def test_validation_reads_hubs_of_the_organization_only(tenant_a: Tenant, tenant_b: Tenant) -> None:
    """The pure-ish validator, without the web layer: B's hub code is unknown to A."""
    data = csv_bytes([row(reference="P-1", hub=tenant_b.hub.code), row(reference="P-2")])
    with tenant_context(tenant_a.organization.pk):
        preview = imports.import_validate(
            organization_id=tenant_a.organization.pk,
            timezone_name="UTC",
            filename="p.csv",
            data=data,
        )
    assert [r["reference"] for r in preview.valid_rows] == ["P-2"]
    assert [(e.row, e.column) for e in preview.errors] == [(2, "hub")]
    with scopes_disabled():
        assert Hub.objects.filter(code=tenant_b.hub.code).count() == 1


def test_with_a_geocoder_rows_without_coordinates_are_accepted_and_flagged(
    tenant_a: Tenant, settings: Any
) -> None:
    settings.GEOCODER_URL = "http://127.0.0.1:9/search"  # configured; nothing is called here
    rows = [row(reference="GEO-1", latitude="", longitude=""), row(reference="GEO-2")]
    client = login(tenant_a.users[Role.DISPATCHER])
    token = preview_token(upload(client, "g.csv", csv_bytes(rows)))
    body = client.get("/orders/import/", {"preview": token}).content.decode()
    assert 'data-testid="rows-valid">2<' in body and "Need coordinates" in body
    client.post("/orders/import/commit/", {"token": token, "action": "import"})
    with scopes_disabled():
        order = Order.objects.get(reference="GEO-1")
    assert order.needs_coordinates


def test_a_damaged_workbook_is_a_form_error(tenant_a: Tenant) -> None:
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["R-1", "N", "A", 1, 1]], HEADER[:5])))
    damaged = io.BytesIO()
    with zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                body = body[: len(body) // 2]  # cut off mid-element
            target.writestr(item, body)
    response = upload(login(tenant_a.users[Role.DISPATCHER]), "d.xlsx", damaged.getvalue())
    assert response.status_code == 200
    assert "cannot be read" in response.content.decode() or "not a readable" in (
        response.content.decode()
    )


def test_the_import_the_api_and_the_service_share_one_order_field_list() -> None:
    import inspect

    from deliveries.api.serializers import OrderInputSerializer, OrderOutputSerializer
    from deliveries.models.orders import ORDER_DATA_FIELDS
    from deliveries.services.orders import order_create

    given = set(ORDER_DATA_FIELDS)
    # The API makes the tracking code itself; the import may carry a customer's own.
    assert set(OrderInputSerializer().fields) == given - {"tracking_code"} | {"hub"}
    assert given <= set(OrderOutputSerializer.Meta.fields)
    assert [*ORDER_DATA_FIELDS, "hub"] == imports.COLUMNS
    service = set(inspect.signature(order_create).parameters)
    assert given - {"tracking_code"} <= service
