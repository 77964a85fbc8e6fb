"""The KPI interface the dashboards, the reports and the API read (docs/reporting.md).

    kpi_summary(organization_id=..., filters=...)            -> KpiSummary
    kpi_daily(organization_id=..., filters=...)              -> list[KpiDay]
    kpi_breakdown(organization_id=..., filters=..., by=...)  -> list[KpiRow]

All three read the same facts (`facts.py`: vehicle-day and route-day rollup rows, and the
alerts opened in the period), group them, add their totals and derive the figures with the
same arithmetic (`figures.py`), so a tile, its trend and its drill-down always agree."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from tenancy.context import require_organization

from . import facts
from .figures import (
    CostParameters,
    EtaAccuracy,
    KpiFigures,
    KpiTotals,
    eta_accuracy_compute,
    figures_compute,
    totals_sum,
)
from .filters import KpiFilters

BreakdownBy = Literal["vehicle", "driver", "hub", "day"]
BREAKDOWNS: tuple[BreakdownBy, ...] = ("vehicle", "driver", "hub", "day")


@dataclass(frozen=True)
class FailureReasonCount:
    code: str  # "" when the failure gave no reason
    label: str
    failures: int


@dataclass(frozen=True)
class KpiSummary:
    """The period's figures, the same figures for the previous period of the same length (for
    "change against the previous period": `figures.x.change(previous.x)`), failures by
    reason (most first) and the ETA accuracy at each horizon."""

    filters: KpiFilters
    timezone: str
    currency: str
    figures: KpiFigures
    previous: KpiFigures
    failures_by_reason: tuple[FailureReasonCount, ...]
    eta_accuracy: tuple[EtaAccuracy, ...]


@dataclass(frozen=True)
class KpiDay:
    day: dt.date
    figures: KpiFigures


@dataclass(frozen=True)
class KpiRow:
    """One entity's figures: `by` is what the rows are per, `key` the entity's id (or the day,
    yyyy-mm-dd), `label` its name (plate, driver name, hub name, day)."""

    by: BreakdownBy
    key: str
    label: str
    figures: KpiFigures


def _totals(
    organization_id: int,
    filters: KpiFilters,
    settings: facts.KpiSettings,
    group: tuple[str, ...] = (),
) -> list[facts.Fact]:
    return facts.facts_load(
        organization_id=organization_id, filters=filters, timezone=settings.timezone, group=group
    )


def kpi_summary(*, organization_id: int, filters: KpiFilters) -> KpiSummary:
    require_organization(organization_id)
    settings = facts.kpi_settings_get(organization_id=organization_id)
    costs = settings.costs
    current = totals_sum(f.totals for f in _totals(organization_id, filters, settings))
    previous = totals_sum(f.totals for f in _totals(organization_id, filters.previous(), settings))
    # Only the period itself shows failures by reason and ETA accuracy (not its predecessor).
    histograms = facts.histograms_load(organization_id=organization_id, filters=filters)
    return KpiSummary(
        filters=filters,
        timezone=settings.timezone,
        currency=costs.currency,
        figures=figures_compute(current, costs),
        previous=figures_compute(previous, costs),
        failures_by_reason=_reasons(organization_id, histograms.failures_by_reason),
        eta_accuracy=eta_accuracy_compute(histograms.eta_errors),
    )


def _reasons(organization_id: int, counts: dict[str, int]) -> tuple[FailureReasonCount, ...]:
    labels = facts.failure_reason_labels(organization_id=organization_id)
    rows = [
        FailureReasonCount(code, labels.get(code, code) if code else "No reason given", n)
        for code, n in counts.items()
        if n
    ]
    return tuple(sorted(rows, key=lambda r: (-r.failures, r.label)))


def _grouped(
    rows: Iterable[facts.Fact], key: Callable[[facts.Fact], object]
) -> dict[object, KpiTotals]:
    groups: dict[object, list[KpiTotals]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row.totals)
    return {k: totals_sum(v) for k, v in groups.items()}


def kpi_daily(*, organization_id: int, filters: KpiFilters) -> list[KpiDay]:
    """One entry per local day of the period, days without data included (their figures are
    zero counts and None rates), oldest first."""
    require_organization(organization_id)
    settings = facts.kpi_settings_get(organization_id=organization_id)
    costs = settings.costs
    by_day = _grouped(_totals(organization_id, filters, settings, ("day",)), lambda f: f.day)
    days = [filters.start + dt.timedelta(days=i) for i in range(filters.days)]
    return [KpiDay(day, figures_compute(by_day.get(day, KpiTotals()), costs)) for day in days]


def kpi_breakdown(*, organization_id: int, filters: KpiFilters, by: BreakdownBy) -> list[KpiRow]:
    """One row per vehicle, driver, hub or day that has data in the slice, by label. Facts
    that have no such entity (a vehicle-day without a driver) are left out of driver rows."""
    require_organization(organization_id)
    if by not in BREAKDOWNS:
        raise ValueError(f"breakdown by {by!r}: one of {', '.join(BREAKDOWNS)}")
    if by == "day":
        return [
            KpiRow("day", d.day.isoformat(), d.day.isoformat(), d.figures)
            for d in kpi_daily(organization_id=organization_id, filters=filters)
        ]
    settings = facts.kpi_settings_get(organization_id=organization_id)
    costs = settings.costs
    attribute = {"vehicle": "vehicle_id", "driver": "driver_id", "hub": "hub_id"}[by]
    rows = _totals(organization_id, filters, settings, (attribute,))
    groups = _grouped(rows, lambda f: getattr(f, attribute))
    ids = [i for i in groups if isinstance(i, int)]
    labels = facts.entity_labels(organization_id=organization_id, by=by, ids=ids)
    result = [
        KpiRow(by, str(i), labels.get(i, f"#{i}"), figures_compute(groups[i], costs)) for i in ids
    ]
    return sorted(result, key=lambda r: (r.label, r.key))


__all__ = [
    "BREAKDOWNS",
    "BreakdownBy",
    "CostParameters",
    "FailureReasonCount",
    "KpiDay",
    "KpiFilters",
    "KpiRow",
    "KpiSummary",
    "kpi_breakdown",
    "kpi_daily",
    "kpi_summary",
]
