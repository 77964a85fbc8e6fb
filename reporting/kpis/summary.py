"""The KPI interface the dashboards, the reports and the API read (docs/reporting.md).

    kpi_summary(organization_id=..., filters=...)            -> KpiSummary
    kpi_daily(organization_id=..., filters=...)              -> list[KpiDay]
    kpi_breakdown(organization_id=..., filters=..., by=...)  -> list[KpiRow]

    kpi_dashboard(organization_id=..., filters=...)          -> KpiDashboard
        (the summary, the daily series and the vehicle and driver breakdowns of one slice)

All read the same facts (`facts.py`: vehicle-day and route-day rollup rows, and the alerts
opened in the period), group them, add their totals and derive the figures with the same
arithmetic (`figures.py`), so a tile, its trend and its drill-down always agree."""

from __future__ import annotations

import dataclasses
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
    figure_compute,
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
    current = totals_sum(f.totals for f in _totals(organization_id, filters, settings))
    previous = totals_sum(f.totals for f in _totals(organization_id, filters.previous(), settings))
    return _summary(organization_id, filters, settings, current, previous)


def _summary(
    organization_id: int,
    filters: KpiFilters,
    settings: facts.KpiSettings,
    current: KpiTotals,
    previous: KpiTotals,
) -> KpiSummary:
    costs = settings.costs
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
    by_day = _grouped(_totals(organization_id, filters, settings, ("day",)), lambda f: f.day)
    return _daily(filters, by_day, settings.costs)


def _days(filters: KpiFilters) -> list[dt.date]:
    return [filters.start + dt.timedelta(days=i) for i in range(filters.days)]


def _daily(
    filters: KpiFilters, by_day: dict[object, KpiTotals], costs: CostParameters
) -> list[KpiDay]:
    return [
        KpiDay(day, figures_compute(by_day.get(day, KpiTotals()), costs)) for day in _days(filters)
    ]


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
    attribute = _ENTITY_ATTRIBUTES[by]
    rows = _totals(organization_id, filters, settings, (attribute,))
    return _entity_rows(organization_id, by, rows, settings.costs)


_ENTITY_ATTRIBUTES = {"vehicle": "vehicle_id", "driver": "driver_id", "hub": "hub_id"}


@dataclass(frozen=True)
class _Entity:
    """A breakdown row before its figures: the entity and its totals."""

    by: BreakdownBy
    key: str
    label: str
    totals: KpiTotals


def _entities(organization_id: int, by: BreakdownBy, rows: Iterable[facts.Fact]) -> list[_Entity]:
    """One per entity the facts name, by label (facts without one are left out)."""
    attribute = _ENTITY_ATTRIBUTES[by]
    groups = _grouped(rows, lambda f: getattr(f, attribute))
    ids = [i for i in groups if isinstance(i, int)]
    labels = facts.entity_labels(organization_id=organization_id, by=by, ids=ids)
    result = [_Entity(by, str(i), labels.get(i, f"#{i}"), groups[i]) for i in ids]
    return sorted(result, key=lambda e: (e.label, e.key))


def _row(entity: _Entity, costs: CostParameters) -> KpiRow:
    return KpiRow(entity.by, entity.key, entity.label, figures_compute(entity.totals, costs))


def _entity_rows(
    organization_id: int, by: BreakdownBy, rows: Iterable[facts.Fact], costs: CostParameters
) -> list[KpiRow]:
    return [_row(entity, costs) for entity in _entities(organization_id, by, rows)]


Worst = Literal["highest", "lowest"]


@dataclass(frozen=True)
class KpiRanking:
    """A breakdown worst first by one figure, entities without a value for it left out: the
    first few rows (all their figures) and how many entities have a value."""

    rows: list[KpiRow]
    total: int


def _ranking(
    entities: list[_Entity], figure: str, worst: Worst, shown: int, costs: CostParameters
) -> KpiRanking:
    """The ranked figure of every entity, all figures of the `shown` worst only (a 200-van
    fleet's breakdowns were most of a dashboard's arithmetic). Ties go by label."""
    measured = [
        (value, entity)
        for entity in entities
        if (value := figure_compute(figure, entity.totals, costs).value) is not None
    ]
    measured.sort(key=lambda pair: (pair[0], pair[1].label), reverse=worst == "highest")
    return KpiRanking([_row(entity, costs) for _, entity in measured[:shown]], len(measured))


@dataclass(frozen=True)
class KpiDashboard:
    """A dashboard's figures of one slice: what `kpi_summary` and `kpi_daily` return for it,
    and its vehicles, drivers and days (`kpi_breakdown`) ranked worst first by one figure."""

    summary: KpiSummary
    days: list[KpiDay]
    worst_vehicles: KpiRanking
    worst_drivers: KpiRanking
    worst_days: KpiRanking


def kpi_dashboard(
    *, organization_id: int, filters: KpiFilters, rank: str, worst: Worst, shown: int
) -> KpiDashboard:
    """The summary, daily series and worst vehicles, drivers and days by `rank` (`worst`:
    whether its highest or its lowest values are the worst) of one slice, from one read per
    kind of fact instead of one per figure: the rollups of the period and the one before it
    summed per day (the summary and its previous period add up their days; the series is
    those days), the period's rollups summed per (vehicle, driver) (each breakdown adds up
    its entity's rows), the alerts of both periods read once. Every total is a sum, so the
    figures are those of the separate functions."""
    require_organization(organization_id)
    settings = facts.kpi_settings_get(organization_id=organization_id)
    costs = settings.costs
    previous = filters.previous()
    alerts = facts.periods_alert_facts(
        organization_id=organization_id, periods=(previous, filters), timezone=settings.timezone
    )
    span = dataclasses.replace(filters, start=previous.start)
    day_rollups = facts.rollup_facts(organization_id=organization_id, filters=span, group=("day",))
    by_day = _grouped([*day_rollups, *alerts], lambda f: f.day)
    current, before = (
        totals_sum(by_day[day] for day in _days(period) if day in by_day)
        for period in (filters, previous)
    )
    entity_facts = [
        *facts.rollup_facts(
            organization_id=organization_id, filters=filters, group=("vehicle_id", "driver_id")
        ),
        *(a for a in alerts if a.day and filters.start <= a.day <= filters.end),
    ]
    days = [
        _Entity("day", day.isoformat(), day.isoformat(), by_day.get(day, KpiTotals()))
        for day in _days(filters)
    ]

    def ranked(entities: list[_Entity]) -> KpiRanking:
        return _ranking(entities, rank, worst, shown, costs)

    return KpiDashboard(
        summary=_summary(organization_id, filters, settings, current, before),
        days=_daily(filters, by_day, costs),
        worst_vehicles=ranked(_entities(organization_id, "vehicle", entity_facts)),
        worst_drivers=ranked(_entities(organization_id, "driver", entity_facts)),
        worst_days=ranked(days),
    )


__all__ = [
    "BREAKDOWNS",
    "BreakdownBy",
    "CostParameters",
    "FailureReasonCount",
    "KpiDashboard",
    "KpiDay",
    "KpiFilters",
    "KpiRanking",
    "KpiRow",
    "KpiSummary",
    "Worst",
    "kpi_breakdown",
    "kpi_daily",
    "kpi_dashboard",
    "kpi_summary",
]
