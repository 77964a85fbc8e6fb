"""One row by a fixed condition, from SQL built once per process: for the hottest reads only.

The ORM builds and compiles a query anew on every call: for the one-row reads every API
request makes (its token, the order it asks for) that was ~0.8-1 ms of CPU each, most of an
order detail's own cost (docs/benchmarks.md, "API load"). A `RowReader` builds the SELECT
once, with the parents the ORM's `select_related` would join, and turns the row into model
instances as the ORM does (the fields' database converters, `Model.from_db`).

Plain SQL is outside django-scopes' guard, so a reader's condition must name the organization
(`row.organization_id = %s`) and its caller must have checked the context
(`require_organization`); row-level security applies as to every query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models

M = TypeVar("M", bound=models.Model)
Converter = Callable[[Any, Any, Any], Any]


class _Part:
    """One model's columns in the SELECT: where they are and how each value is converted."""

    def __init__(self, model: type[models.Model], alias: str, start: int) -> None:
        connection = connections[DEFAULT_DB_ALIAS]
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.names = [field.attname for field in self.fields]
        self.start, self.end = start, start + len(self.fields)
        self.columns = [f'{alias}."{field.column}"' for field in self.fields]
        self.converters: list[tuple[int, list[Converter], Any]] = []
        for index, field in enumerate(self.fields):
            column = field.get_col(alias)
            converters = connection.ops.get_db_converters(column)
            converters += column.get_db_converters(connection)
            if converters:
                self.converters.append((index, converters, column))

    def instance(self, row: Sequence[Any]) -> models.Model:
        values = list(row[self.start : self.end])
        connection = connections[DEFAULT_DB_ALIAS]
        for index, converters, column in self.converters:
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        return self.model.from_db(DEFAULT_DB_ALIAS, self.names, values)


class RowReader(Generic[M]):
    """`RowReader(Order, related=("hub",), where="row.organization_id = %s AND row.id = %s")`
    reads `.get(organization_id, order_id)`: the order with its hub, or None. In `where` the
    model's table is `row`; `related` names foreign keys that are never null."""

    def __init__(self, model: type[M], *, where: str, related: tuple[str, ...] = ()) -> None:
        self.model, self.where, self.related = model, where, related
        self._built: tuple[str, _Part, list[tuple[Any, _Part]]] | None = None

    def _build(self) -> tuple[str, _Part, list[tuple[Any, _Part]]]:
        main = _Part(self.model, "row", 0)
        parents: list[tuple[Any, _Part]] = []
        joins, columns, start = [], list(main.columns), main.end
        for number, name in enumerate(self.related):
            field = self.model._meta.get_field(name)
            assert isinstance(field, models.ForeignKey), f"{name}: not a foreign key"
            alias = f"parent{number}"
            part = _Part(field.related_model, alias, start)
            parents.append((field, part))
            columns += part.columns
            start = part.end
            target = field.target_field.column
            joins.append(
                f'JOIN "{part.model._meta.db_table}" {alias} '
                f'ON {alias}."{target}" = row."{field.column}"'
            )
        # Built from the models' own table and column names and the reader's constant
        # condition, never from input: the values are parameters.
        table, select, joined = self.model._meta.db_table, ", ".join(columns), " ".join(joins)
        sql = f'SELECT {select} FROM "{table}" row {joined} WHERE {self.where} LIMIT 1'  # noqa: S608
        return sql, main, parents

    def get(self, *params: Any) -> M | None:
        if self._built is None:
            self._built = self._build()
        sql, main, parents = self._built
        connection = connections[DEFAULT_DB_ALIAS]
        # Prepared on the connection (tenancy/db/base.py): parsed and planned once per pooled
        # connection instead of on every request.
        open_cursor = getattr(connection, "prepared_cursor", connection.cursor)
        with open_cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        instance = main.instance(row)
        for field, part in parents:
            field.set_cached_value(instance, part.instance(row))
        return instance  # type: ignore[return-value]
