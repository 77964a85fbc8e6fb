"""Bulk loading by PostgreSQL COPY (psycopg 3 `cursor.copy`), for code that writes many rows
at once outside the request path: the demo's weeks of history and the benchmarks' datasets.

Two ways in:

- `copy_rows`: COPY straight into a table. Only for a role that row-level security does not
  apply to (a superuser building a benchmark database): PostgreSQL refuses COPY FROM into a
  table whose policies apply to the current role.
- `copy_insert`: COPY into a temporary table shaped like the target, then one
  `INSERT … SELECT` into it: the rows stay in the caller's transaction and the table's
  policies check every one of them against the tenant context, like any other tenant write.

`copy_objects` does the same for unsaved Django model instances (their primary keys reserved
first, so their children can point at them): the demo builds its rows as models, as the rest of
the code does, and loads them at COPY speed.

`ids_reserve` hands out a block of primary keys from a table's own sequence, so a caller can
write parents and their children in one pass without reading ids back (and concurrent
writers still never collide)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _identifier(name: str) -> str:
    # Table and column names are the caller's constants; refuse anything else so no value can
    # ever reach the SQL text.
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def _columns(columns: Sequence[str]) -> str:
    return ", ".join(_identifier(column) for column in columns)


def copy_rows(
    cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY `rows` (one value per column, Python values) into `table`; returns the rows sent.
    `cursor` is a psycopg 3 cursor (from Django: `connection.cursor().cursor`)."""
    sql = f"COPY {_identifier(table)} ({_columns(columns)}) FROM STDIN"
    count = 0
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def copy_insert(
    cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY `rows` into a session table shaped like `table`, then INSERT them into `table` in
    the current transaction (row-level security applies); returns the rows inserted. For a
    role that row-level security does not apply to (a superuser, BYPASSRLS: `make run` seeds
    as the database owner) the policies have nothing to check, and the rows go straight in."""
    if not _policies_apply(cursor):
        return copy_rows(cursor, table, columns, rows)
    staging = f"copy_staging_{_identifier(table)}"
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
        f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    # A caller outside a transaction (autocommit) would have seen the rows deleted already;
    # inside one, an earlier call's rows must not be inserted twice.
    cursor.execute(f"TRUNCATE {staging}")
    if not copy_rows(cursor, staging, columns, rows):
        return 0
    names = _columns(columns)
    cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}")  # noqa: S608
    inserted = int(cursor.rowcount)
    cursor.execute(f"TRUNCATE {staging}")
    return inserted


def _policies_apply(cursor: Any) -> bool:
    cursor.execute(
        "SELECT NOT (rolsuper OR rolbypassrls) FROM pg_roles WHERE rolname = current_user"
    )
    row = cursor.fetchone()
    return row is None or bool(row[0])


def ids_reserve(cursor: Any, table: str, count: int) -> list[int]:
    """`count` fresh ids from the sequence behind `table`.id, in increasing order."""
    if count <= 0:
        return []
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [_identifier(table), count],
    )
    return sorted(row[0] for row in cursor.fetchall())


def _converter(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
    """How a model attribute becomes a COPY value. Most attributes are already what psycopg
    writes (numbers, text, aware datetimes, ids); JSON and files need their database form."""
    if isinstance(field, models.JSONField):
        # Serialized here (COPY's text format reads it back as JSON): cheaper than a Jsonb
        # wrapper per value.
        return lambda value: None if value is None else json.dumps(value, cls=field.encoder)
    if isinstance(field, models.FileField):
        return lambda value: str(value or "")
    if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
        now = timezone.now()
        return lambda value: now if value is None else value
    if isinstance(field, (models.CharField, models.TextField)):
        # A TextChoices member is an Enum to psycopg, which would write its *name*.
        return lambda value: value if value is None or type(value) is str else str(value)
    if isinstance(field, (models.IntegerField, models.FloatField)) and field.choices:
        return lambda value: value if value is None else field.to_python(value)  # not an Enum
    plain = (models.IntegerField, models.FloatField, models.BooleanField, models.DateTimeField,
             models.DateField, models.ForeignKey)  # fmt: skip
    if isinstance(field, plain):
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


def ids_assign(objects: Sequence[models.Model]) -> None:
    """Give the instances (of one model) that have no primary key one from its sequence, so
    their children can be built pointing at them before anything is written."""
    missing = [obj for obj in objects if obj.pk is None]
    if not missing:
        return
    with connection.cursor() as cursor:
        ids = ids_reserve(cursor, type(missing[0])._meta.db_table, len(missing))
    for obj, pk in zip(missing, ids, strict=True):
        obj.pk = pk


def copy_objects(objects: Sequence[models.Model]) -> int:
    """Insert unsaved instances of one model by COPY (through `copy_insert`, so row-level
    security checks them); instances without a primary key get one from the table's sequence
    first. No signals, no `save()`: the bulk-loading counterpart of `bulk_create`."""
    if not objects:
        return 0
    model = type(objects[0])
    meta = model._meta
    fields = list(meta.concrete_fields)
    ids_assign(objects)
    # Django's own exceptions (IntegrityError, ...) for the raw psycopg cursor's errors.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        converters = [(field.attname, _converter(field)) for field in fields]
        rows = (
            tuple(convert(getattr(obj, name)) for name, convert in converters) for obj in objects
        )
        inserted = copy_insert(
            cursor.cursor, meta.db_table, [str(field.column) for field in fields], rows
        )
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return inserted


def ids_reserve_for(model: type[models.Model], count: int) -> list[int]:
    """`ids_reserve` for a model's table."""
    with connection.cursor() as cursor:
        return ids_reserve(cursor, model._meta.db_table, count)


def _default(field: models.Field[Any, Any]) -> Callable[[], Any]:
    """The value a row without this field gets: the model's default (a callable one called
    for every row, like `tracking_code_new`), else what Django would store for "not given"."""
    if field.has_default() and callable(field.default):
        return field.default  # type: ignore[no-any-return]
    value = field.get_default()
    return lambda: value


def copy_dicts(model: type[models.Model], rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows of `model` given as dicts of attribute names (`order_id`, not `order`) by
    COPY (through `copy_insert`); a field a row leaves out takes the model's default, as
    `Model(...)` would give it. Rows without an `id` get one from the table's sequence. For
    the tens of thousands of rows that `copy_objects` would first have to build as model
    instances."""
    if not rows:
        return 0
    meta = model._meta
    missing = [row for row in rows if row.get("id") is None]
    for row, pk in zip(missing, ids_reserve_for(model, len(missing)), strict=True):
        row["id"] = pk
    plan = [(field.attname, _converter(field), _default(field)) for field in meta.concrete_fields]
    values = (
        tuple(
            convert(row[name]) if name in row else convert(default())
            for name, convert, default in plan
        )
        for row in rows
    )
    with connection.cursor() as cursor, connection.wrap_database_errors:
        return copy_insert(
            cursor.cursor,
            meta.db_table,
            [str(field.column) for field in meta.concrete_fields],
            values,
        )
