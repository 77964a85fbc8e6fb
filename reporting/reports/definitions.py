"""What a report is: typed columns, rows of plain values, an optional chart, and the registry
of report kinds. Pure: no database here (the kinds' builders read through selectors)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..kpis.filters import KpiFilters

Value = str | int | float | dt.datetime | dt.date | None
Row = tuple[Value, ...]
Progress = Callable[[float], None]  # the share done, 0..1


class ColumnKind(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATETIME = "datetime"  # aware; shown in the organization's zone
    DATE = "date"  # a local day of the organization


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: ColumnKind = ColumnKind.TEXT
    decimals: int = 1  # DECIMAL only: how the files show it


@dataclass(frozen=True)
class ChartSpec:
    """A bar chart of `value` summed per distinct `label` (the PDF draws the largest bars);
    without a `value`, the rows are counted."""

    label: str
    value: str | None
    title: str


@dataclass(frozen=True)
class ReportRequest:
    organization_id: int
    timezone: str
    filters: KpiFilters


@dataclass(frozen=True)
class ReportKind:
    key: str
    title: str
    description: str
    columns: tuple[Column, ...]
    build: Callable[[ReportRequest, Progress], list[Row]]
    chart: ChartSpec | None = None
    reads_rollups: bool = False  # built from the daily rollups, which must be final first

    def column_index(self, key: str) -> int:
        return next(i for i, column in enumerate(self.columns) if column.key == key)


@dataclass(frozen=True)
class ReportTable:
    kind: ReportKind
    request: ReportRequest
    rows: list[Row] = field(default_factory=list)

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.kind.columns

    @property
    def title(self) -> str:
        return self.kind.title

    def period_label(self) -> str:
        filters = self.request.filters
        if filters.start == filters.end:
            return filters.start.isoformat()
        return f"{filters.start.isoformat()} to {filters.end.isoformat()}"

    def chart_series(self, limit: int = 12) -> list[tuple[str, float]]:
        """The chart's bars: `value` summed per `label`, largest first, at most `limit`."""
        chart = self.kind.chart
        if chart is None:
            return []
        label_at = self.kind.column_index(chart.label)
        value_at = None if chart.value is None else self.kind.column_index(chart.value)
        totals: dict[str, float] = {}
        for row in self.rows:
            value = 1 if value_at is None else row[value_at]
            if isinstance(value, int | float):
                label = str(row[label_at] if row[label_at] is not None else "—")
                totals[label] = totals.get(label, 0.0) + float(value)
        return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]


def row_values(columns: Sequence[Column], row: Row) -> dict[str, Any]:
    return {column.key: value for column, value in zip(columns, row, strict=True)}
