"""Order import from CSV or XLSX: read, validate every row, preview, then import all valid rows
in one transaction or nothing.

Reading and validation take plain bytes and return a plain `ImportPreview`; the preview is kept
server-side (in the cache, under a random token bound to the organization and the user) between
the upload and the user's choice, so the rows that get imported are exactly the rows that were
validated and shown, never data posted back by the browser.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
import zipfile
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from fleet.models import Hub
from tenancy.context import require_organization
from tenancy.errors import Conflict, InvalidInput

from ..models import DeliveryEvent, Order
from ..models.orders import ORDER_DATA_FIELDS, tracking_code_new
from ..resolvers import tracking_codes_taken
from .order_batch import orders_insert_created
from .orders import position_check, window_check

MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024
PREVIEW_TTL_SECONDS = 60 * 60

# The template's columns, in order. Only reference, customer_name, address (and hub, unless a
# default hub is chosen) are required; the other columns may be left out.
COLUMNS = [*ORDER_DATA_FIELDS, "hub"]
REQUIRED_COLUMNS = ("reference", "customer_name", "address")
# Headers other systems commonly export, mapped to ours.
ALIASES = {
    "order": "reference",
    "order_reference": "reference",
    "tracking": "tracking_code",
    "customer": "customer_name",
    "name": "customer_name",
    "telephone": "phone",
    "lat": "latitude",
    "lon": "longitude",
    "lng": "longitude",
    "from": "window_start",
    "to": "window_end",
    "service_time": "service_minutes",
    "weight": "weight_kg",
    "volume": "volume_l",
    "hub_code": "hub",
}
TEMPLATE_EXAMPLE = [
    "ORD-1001",
    "",
    "Jane Doe",
    "+31 6 12345678",
    "jane@example.com",
    "Keizersgracht 1, Amsterdam",
    "52.3731",
    "4.8922",
    "2026-12-01 09:00",
    "2026-12-01 12:00",
    "5",
    "normal",
    "2.5",
    "10",
    "Ring twice",
    "main-hub",
]
PRIORITIES = {label.lower(): value for value, label in Order.Priority.choices}
TRACKING_CODE = re.compile(r"^[A-Za-z0-9_-]{16,32}$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
Cell = str | int | float | dt.datetime | dt.date | dt.time | None


class ImportFileError(InvalidInput):
    """The file as a whole cannot be imported (format, size, header); nothing was validated."""


class ImportConflict(Conflict):
    """The database changed since the preview (e.g. a reference now exists): nothing imported."""


@dataclass
class RowError:
    row: int  # as the spreadsheet numbers it: the header is row 1
    column: str
    message: str


@dataclass
class ImportPreview:
    filename: str
    total_rows: int = 0
    valid_rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    missing_coordinates: int = 0  # valid rows that a geocoder must still place

    @property
    def bad_row_count(self) -> int:
        return len({error.row for error in self.errors})

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every one of up to 10,000 rows.
        return {
            "filename": self.filename,
            "total_rows": self.total_rows,
            "valid_rows": self.valid_rows,
            "errors": [(e.row, e.column, e.message) for e in self.errors],
            "ignored_columns": self.ignored_columns,
            "missing_coordinates": self.missing_coordinates,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportPreview:
        errors = [RowError(*error) for error in data.pop("errors")]
        return cls(**data, errors=errors)


# --- reading ----------------------------------------------------------------------------------


def _header_name(value: Cell) -> str:
    name = re.sub(r"[\s\-]+", "_", str(value or "").strip().lower())
    return ALIASES.get(name, name)


def _csv_rows(data: bytes) -> Iterator[list[Cell]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet programs on Windows save CSV as cp1252 unless told otherwise.
        text = data.decode("cp1252", errors="replace")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        yield from csv.reader(io.StringIO(text), dialect)
    except csv.Error as exc:
        raise ImportFileError(f"The CSV file cannot be read: {exc}.") from exc


def _xlsx_rows(data: bytes) -> Iterator[list[Cell]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFileError("The file is not a readable XLSX workbook.") from exc
    try:
        sheet = workbook.worksheets[0]
        # The sheet's XML is parsed lazily, row by row: a damaged one can fail in many ways
        # deep inside openpyxl, and each of them means the same to the user.
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError("The XLSX workbook is damaged and cannot be read.") from exc
    finally:
        workbook.close()


def rows_read(*, filename: str, data: bytes) -> tuple[list[str], list[tuple[int, list[Cell]]]]:
    """The header (normalized column names) and the non-empty data rows with their numbers."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix == "xlsx":
        reader: Iterable[list[Cell]] = _xlsx_rows(data)
    elif suffix in ("csv", "txt"):
        reader = _csv_rows(data)
    else:
        raise ImportFileError("Upload a .csv or .xlsx file.")
    header: list[str] | None = None
    rows: list[tuple[int, list[Cell]]] = []
    for number, row in enumerate(reader, start=1):
        if all(cell is None or str(cell).strip() == "" for cell in row):
            continue
        if header is None:
            header = [_header_name(cell) for cell in row]
            continue
        if len(rows) == MAX_ROWS:
            raise ImportFileError(
                f"The file has more than {MAX_ROWS:,} rows: split it into smaller files."
            )
        rows.append((number, row))
    if header is None:
        raise ImportFileError("The file is empty.")
    return header, rows


# --- cell parsing -------------------------------------------------------------------------------


class CellError(ValueError):
    pass


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # spreadsheets turn references like 1001 into 1001.0
    return str(value).strip()


def _number(value: Cell) -> float | None:
    if value is None or _text(value) == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        # A decimal comma, as European spreadsheets write it.
        return float(_text(value).replace(",", "."))
    except ValueError as exc:
        raise CellError("Not a number.") from exc


def _whole(value: Cell) -> int | None:
    number = _number(value)
    if number is None:
        return None
    if not number.is_integer():
        raise CellError("Give a whole number.")
    return int(number)


def _priority(value: Cell) -> int | None:
    text = _text(value).lower()
    if not text:
        return None
    if text in PRIORITIES:
        return PRIORITIES[text]
    if text in {str(choice) for choice in Order.Priority.values}:
        return int(text)
    raise CellError("Use normal, high or urgent (or 0, 1, 2).")


def _moment(value: Cell, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """An aware UTC datetime; naive times are the organization's local time."""
    if value is None or _text(value) == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date | dt.time):
        raise CellError("Give a date and a time, e.g. 2026-12-01 09:00.")
    else:
        text = _text(value)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise CellError("Give a date and a time, e.g. 2026-12-01 09:00.")
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise CellError(
                "Not a date and time; use 2026-12-01 09:00 (optionally with an offset)."
            ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        # UTC right away: PostgreSQL refuses offsets beyond ±15:59 that Python accepts.
        return moment.astimezone(dt.UTC)
    except OverflowError as exc:
        raise CellError("Date and time out of range.") from exc


# --- validation ---------------------------------------------------------------------------------


@dataclass
class _Context:
    organization_id: int
    zone: zoneinfo.ZoneInfo
    hubs: dict[str, int]  # code -> id, of the organization
    allowed_hub_ids: set[int] | None  # the user's hub scope; None: every hub
    default_hub_id: int | None
    geocoder: bool
    seen_references: dict[str, int] = field(default_factory=dict)
    seen_tracking_codes: dict[str, int] = field(default_factory=dict)


def _parse_row(
    values: dict[str, Cell], context: _Context, errors: dict[str, str]
) -> dict[str, Any]:
    parsers: dict[str, Any] = {
        "latitude": _number,
        "longitude": _number,
        "service_minutes": _whole,
        "priority": _priority,
        "weight_kg": _number,
        "volume_l": _number,
        "window_start": lambda cell: _moment(cell, context.zone),
        "window_end": lambda cell: _moment(cell, context.zone),
    }
    parsed: dict[str, Any] = {}
    for column in COLUMNS:
        if column == "hub":
            continue
        try:
            parsed[column] = parsers.get(column, _text)(values.get(column))
        except CellError as exc:
            errors[column] = str(exc)
    return parsed


def _hub_check(code: str, context: _Context) -> int:
    if not code:
        if context.default_hub_id is None:
            raise CellError("Give the hub's code (or choose a hub for rows without one).")
        return context.default_hub_id
    hub_id = context.hubs.get(code)
    if hub_id is None:
        raise CellError(f"No hub with code “{code}” in this organization.")
    if context.allowed_hub_ids is not None and hub_id not in context.allowed_hub_ids:
        raise CellError(f"Hub “{code}” is not one of your hubs.")
    return hub_id


def _model_check(parsed: dict[str, Any], hub_id: int, context: _Context) -> dict[str, str]:
    """The checks order_create makes (field rules, position and window), as column errors."""
    found: dict[str, str] = {}
    fields = {k: v for k, v in parsed.items() if k != "tracking_code" and v is not None}
    order = Order(organization_id=context.organization_id, hub_id=hub_id, **fields)
    try:
        order.full_clean(
            exclude=["organization", "hub", "tracking_code"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        found.update({name: " ".join(messages) for name, messages in exc.message_dict.items()})
    for check, args in (
        (position_check, (parsed.get("latitude"), parsed.get("longitude"))),
        (window_check, (parsed.get("window_start"), parsed.get("window_end"))),
    ):
        try:
            check(*args)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                found.setdefault(name, " ".join(messages))
    return found


def _row_validate(
    number: int, values: dict[str, Cell], context: _Context
) -> tuple[dict[str, Any] | None, list[RowError]]:
    errors: dict[str, str] = {}
    parsed = _parse_row(values, context, errors)
    hub_id: int | None = None
    try:
        hub_id = _hub_check(_text(values.get("hub")), context)
    except CellError as exc:
        errors["hub"] = str(exc)
    if hub_id is not None:
        for name, message in _model_check(parsed, hub_id, context).items():
            errors.setdefault(name, message)
    reference = parsed.get("reference") or ""
    if reference and "reference" not in errors:
        first = context.seen_references.setdefault(reference, number)
        if first != number:
            errors["reference"] = f"Reference “{reference}” already appears in row {first}."
    tracking_code = parsed.get("tracking_code") or ""
    if tracking_code:
        if not TRACKING_CODE.match(tracking_code):
            errors["tracking_code"] = "Use 16 to 32 letters, digits, - or _ (or leave it empty)."
        else:
            first = context.seen_tracking_codes.setdefault(tracking_code, number)
            if first != number:
                errors["tracking_code"] = f"This tracking code already appears in row {first}."
    if (
        not context.geocoder
        and parsed.get("latitude") is None
        and parsed.get("longitude") is None
        and "latitude" not in errors
    ):
        errors["latitude"] = "Coordinates are required: no geocoder is configured."
    if errors:
        return None, [RowError(number, column, message) for column, message in errors.items()]
    row = {k: v for k, v in parsed.items() if v is not None and v != ""}
    for name in ("window_start", "window_end"):
        if name in row:
            row[name] = row[name].isoformat()
    return {**row, "hub_id": hub_id, "row": number}, []


def _database_duplicates(preview: ImportPreview, organization_id: int) -> None:
    """Second pass: references of the organization and tracking codes that already exist."""
    references = {row["reference"]: row for row in preview.valid_rows}
    codes = {row["tracking_code"]: row for row in preview.valid_rows if "tracking_code" in row}
    clashes: list[tuple[dict[str, Any], RowError]] = []
    require_organization(organization_id)
    existing = Order.objects.filter(
        organization_id=organization_id, reference__in=list(references)
    ).values_list("reference", flat=True)
    for reference in existing.iterator(chunk_size=2000):
        row = references[reference]
        message = "An order with this reference already exists."
        clashes.append((row, RowError(row["row"], "reference", message)))
    # Tracking codes are unique across organizations: they are the public tracking link.
    for code in sorted(tracking_codes_taken(codes=list(codes))):
        row = codes[code]
        clashes.append((row, RowError(row["row"], "tracking_code", "Already in use.")))
    bad_rows = {id(row) for row, _ in clashes}
    preview.valid_rows = [row for row in preview.valid_rows if id(row) not in bad_rows]
    preview.errors.extend(error for _, error in clashes)
    preview.errors.sort(key=lambda error: (error.row, COLUMNS.index(error.column)))


def import_validate(
    *,
    organization_id: int,
    timezone_name: str,
    filename: str,
    data: bytes,
    hub_ids: list[int] | None = None,
    default_hub_id: int | None = None,
) -> ImportPreview:
    """Read the file and check every row; raises ImportFileError when the file as a whole is
    unusable. Nothing is written."""
    require_organization(organization_id)
    header, rows = rows_read(filename=filename, data=data)
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if "hub" not in header and default_hub_id is None:
        missing.append("hub")
    if missing:
        raise ImportFileError(
            "Missing column(s): " + ", ".join(missing) + ". Start from the template."
        )
    hubs = dict(Hub.objects.filter(organization_id=organization_id).values_list("code", "id"))
    allowed = set(hub_ids) if hub_ids else None
    if default_hub_id is not None and default_hub_id not in (allowed or set(hubs.values())):
        raise ImportFileError("The hub chosen for rows without one is not one of your hubs.")
    context = _Context(
        organization_id=organization_id,
        zone=zoneinfo.ZoneInfo(timezone_name),
        hubs=hubs,
        allowed_hub_ids=allowed,
        default_hub_id=default_hub_id,
        geocoder=bool(settings.GEOCODER_URL),
    )
    preview = ImportPreview(
        filename=filename,
        total_rows=len(rows),
        ignored_columns=[name for name in header if name and name not in COLUMNS],
    )
    for number, cells in rows:
        values = {name: cell for name, cell in zip(header, cells, strict=False) if name in COLUMNS}
        row, errors = _row_validate(number, values, context)
        if row is not None:
            preview.valid_rows.append(row)
        preview.errors.extend(errors)
    _database_duplicates(preview, organization_id)
    preview.missing_coordinates = sum(1 for row in preview.valid_rows if "latitude" not in row)
    return preview


# --- keeping the preview between the two steps -------------------------------------------------


def _preview_key(organization_id: int, user_id: int, token: str) -> str:
    return f"order-import:{organization_id}:{user_id}:{token}"


def import_preview_store(*, preview: ImportPreview, organization_id: int, user_id: int) -> str:
    """Keep the validated preview for an hour; the token alone is useless to anybody else
    because the key also names the organization and the user."""
    token = secrets.token_urlsafe(24)
    cache.set(_preview_key(organization_id, user_id, token), preview.to_dict(), PREVIEW_TTL_SECONDS)
    return token


def import_preview_get(*, organization_id: int, user_id: int, token: str) -> ImportPreview | None:
    if not TOKEN.match(token or ""):
        return None
    data = cache.get(_preview_key(organization_id, user_id, token))
    return ImportPreview.from_dict(data) if data else None


def import_preview_discard(*, organization_id: int, user_id: int, token: str) -> None:
    if TOKEN.match(token or ""):
        cache.delete(_preview_key(organization_id, user_id, token))


# --- the import itself ---------------------------------------------------------------------------


def _order_from_row(organization_id: int, row: dict[str, Any]) -> Order:
    values = {k: v for k, v in row.items() if k not in ("row", "hub_id")}
    for name in ("window_start", "window_end"):
        if name in values:
            values[name] = dt.datetime.fromisoformat(values[name])
    values.setdefault("tracking_code", tracking_code_new())
    return Order(organization_id=organization_id, hub_id=row["hub_id"], **values)


def order_import_commit(*, organization_id: int, user: AbstractBaseUser, token: str) -> list[Order]:
    """Create the preview's valid rows, each with its `created` event, all or nothing.

    Raises LookupError when the preview is gone (expired, used, or not this user's) and
    ImportConflict when the database changed since the preview was made."""
    require_organization(organization_id)
    preview = import_preview_get(organization_id=organization_id, user_id=user.pk, token=token)
    if preview is None:
        raise LookupError("This import preview has expired or was already used.")
    # Taken before the write so a double submit cannot import the rows twice.
    import_preview_discard(organization_id=organization_id, user_id=user.pk, token=token)
    orders = [_order_from_row(organization_id, row) for row in preview.valid_rows]
    try:
        with transaction.atomic():
            # Bulk writes: a 10,000-row file must import within one request.
            orders_insert_created(organization_id, orders, user, DeliveryEvent.Source.CONSOLE)
    except IntegrityError as exc:
        raise ImportConflict(
            "Nothing was imported: some references, tracking codes or hubs changed since the "
            "preview. Upload the file again to see which rows."
        ) from exc
    return orders


def template_csv() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerow(TEMPLATE_EXAMPLE)
    return buffer.getvalue()
