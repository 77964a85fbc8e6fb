"""KPI arithmetic, pure: additive totals in, named figures out.

Every figure is a ratio of two sums (or one sum), so a period, a day and a vehicle are all
"the totals of their rows" and the figure of any slice is exact however it is cut: the mean
of daily on-time rates is not the period's on-time rate, the ratio of the summed counts is.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

# The ETA error histogram's bins are whole minutes, clipped to this many either side.
from ..eta_bins import ETA_ERROR_CLIP_MINUTES

# The horizons of the ETA accuracy figure: the prediction made this many minutes before the
# actual arrival is compared with the arrival.
ETA_HORIZONS = (60, 30, 10)


@dataclass(frozen=True)
class Figure:
    """One number with what it is made of: `value` = `numerator` / `denominator` for rates and
    averages (`denominator` None for plain sums), None when there is nothing to measure."""

    value: float | None
    numerator: float | None
    denominator: float | None
    unit: str

    @classmethod
    def total(cls, amount: float, unit: str) -> Figure:
        return cls(amount, amount, None, unit)

    @classmethod
    def ratio(cls, numerator: float, denominator: float, unit: str, scale: float = 1.0) -> Figure:
        if not denominator:
            return cls(None, numerator, denominator, unit)
        return cls(numerator / denominator * scale, numerator, denominator, unit)

    def change(self, previous: Figure) -> float | None:
        """Relative change against the previous period's figure (0.1 = +10 %); None when either
        is missing or the previous one is zero."""
        if self.value is None or previous.value is None or previous.value == 0:
            return None
        return (self.value - previous.value) / abs(previous.value)


@dataclass(frozen=True)
class CostParameters:
    """The organization's cost figures (Organization and reporting.HistorySettings)."""

    currency: str = "EUR"
    cost_per_km: Decimal = Decimal("0.350")
    cost_per_hour: Decimal = Decimal("25")
    idle_fuel_litres_per_hour: Decimal = Decimal("0.8")
    fuel_price_per_litre: Decimal = Decimal("1.90")

    @property
    def idle_cost_per_hour(self) -> Decimal:
        return self.idle_fuel_litres_per_hour * self.fuel_price_per_litre


@dataclass
class KpiTotals:
    """Sums over vehicle-days, route-days and alerts: add any number together."""

    # Vehicle-days (reporting.DailyVehicleRollup)
    vehicle_days: int = 0
    distance_m: float = 0.0
    moving_seconds: int = 0
    idle_seconds: int = 0
    stopped_seconds: int = 0
    shift_seconds: int = 0
    speeding_events: int = 0
    # Route-days (reporting.DailyRouteRollup)
    routes: int = 0
    stops_planned: int = 0
    stops_visited: int = 0
    deliveries: int = 0
    failures: int = 0
    delivered_with_window: int = 0
    delivered_on_time: int = 0
    first_attempts: int = 0
    first_attempt_successes: int = 0
    dwell_seconds: int = 0
    dwell_stops: int = 0
    on_route_seconds: int = 0
    # Plan versus actual, over the routes where both sides are known.
    compared_routes: int = 0
    planned_distance_m: float = 0.0
    actual_distance_m: float = 0.0
    planned_seconds: int = 0
    actual_seconds: int = 0
    # Alerts (alerts.Alert, opened in the slice)
    alerts: int = 0
    alerts_acknowledged: int = 0
    acknowledge_seconds: float = 0.0
    alerts_resolved: int = 0
    resolve_seconds: float = 0.0

    def __add__(self, other: KpiTotals) -> KpiTotals:
        # Plain numbers only: the histograms (failures by reason, ETA errors) are read once
        # per summary (reporting/kpis/facts.py, histograms_load), not carried by every fact.
        return KpiTotals(**{n: getattr(self, n) + getattr(other, n) for n in _TOTAL_NAMES})


_TOTAL_NAMES = tuple(f.name for f in dataclasses.fields(KpiTotals))


_TOTAL_VALUES = operator.attrgetter(*_TOTAL_NAMES)  # a KpiTotals' values as one tuple


def totals_sum(items: Iterable[KpiTotals]) -> KpiTotals:
    """The items added up field by field, in order: the same sums as `a + b + ...` without
    building a KpiTotals per step (a dashboard adds up hundreds of them)."""
    sums = [sum(column) for column in zip(*map(_TOTAL_VALUES, items), strict=True)]
    return KpiTotals(*sums) if sums else KpiTotals()


@dataclass(frozen=True)
class KpiFigures:
    """The named figures of one slice (a period, a day, a vehicle, a driver, a hub)."""

    deliveries: Figure
    failures: Figure
    on_time_rate: Figure
    first_attempt_success_rate: Figure
    stops_per_hour: Figure
    average_dwell_seconds: Figure
    distance_km: Figure
    moving_seconds: Figure
    idle_seconds: Figure
    stopped_seconds: Figure
    utilization: Figure
    idle_cost: Figure
    speeding_per_100_km: Figure
    alerts: Figure
    average_acknowledge_seconds: Figure
    average_resolve_seconds: Figure
    planned_distance_km: Figure
    actual_distance_km: Figure
    distance_vs_plan: Figure
    planned_duration_seconds: Figure
    actual_duration_seconds: Figure
    duration_vs_plan: Figure
    cost: Figure
    cost_per_delivery: Figure

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))


def operating_cost(totals: KpiTotals, costs: CostParameters) -> Decimal:
    """Distance at the cost per km, shift hours at the cost per hour, idling's fuel."""
    km = Decimal(str(totals.distance_m)) / 1000
    hours = Decimal(totals.shift_seconds) / 3600
    idle_hours = Decimal(totals.idle_seconds) / 3600
    return (
        km * costs.cost_per_km + hours * costs.cost_per_hour + idle_hours * costs.idle_cost_per_hour
    )


def _money(costs: CostParameters) -> str:
    return f"currency:{costs.currency}"


def _idle_cost(t: KpiTotals, costs: CostParameters) -> Figure:
    amount = float(Decimal(t.idle_seconds) / 3600 * costs.idle_cost_per_hour)
    return _vehicle_total(t.vehicle_days > 0, amount, _money(costs))


def _cost(t: KpiTotals, costs: CostParameters) -> Figure:
    return _vehicle_total(t.vehicle_days > 0, float(operating_cost(t, costs)), _money(costs))


def _cost_per_delivery(t: KpiTotals, costs: CostParameters) -> Figure:
    if not t.vehicle_days:
        return _missing(_money(costs))
    return Figure.ratio(float(operating_cost(t, costs)), t.deliveries, _money(costs))


# Each figure's rule, so one figure can be computed alone (a ranking reads one figure of every
# entity and all figures of the few it shows).
_RULES: dict[str, Callable[[KpiTotals, CostParameters], Figure]] = {
    "deliveries": lambda t, c: Figure.total(t.deliveries, "count"),
    "failures": lambda t, c: Figure.total(t.failures, "count"),
    "on_time_rate": lambda t, c: Figure.ratio(
        t.delivered_on_time, t.delivered_with_window, "ratio"
    ),
    "first_attempt_success_rate": lambda t, c: Figure.ratio(
        t.first_attempt_successes, t.first_attempts, "ratio"
    ),
    "stops_per_hour": lambda t, c: Figure.ratio(
        t.stops_visited, t.on_route_seconds / 3600, "per_hour"
    ),
    "average_dwell_seconds": lambda t, c: Figure.ratio(t.dwell_seconds, t.dwell_stops, "seconds"),
    "distance_km": lambda t, c: _vehicle_total(t.vehicle_days > 0, t.distance_m / 1000, "km"),
    "moving_seconds": lambda t, c: _vehicle_total(t.vehicle_days > 0, t.moving_seconds, "seconds"),
    "idle_seconds": lambda t, c: _vehicle_total(t.vehicle_days > 0, t.idle_seconds, "seconds"),
    "stopped_seconds": lambda t, c: _vehicle_total(
        t.vehicle_days > 0, t.stopped_seconds, "seconds"
    ),
    "utilization": lambda t, c: Figure.ratio(t.on_route_seconds, t.shift_seconds, "ratio"),
    "idle_cost": _idle_cost,
    "speeding_per_100_km": lambda t, c: Figure.ratio(
        t.speeding_events, t.distance_m / 1000, "per_100_km", scale=100
    ),
    "alerts": lambda t, c: Figure.total(t.alerts, "count"),
    "average_acknowledge_seconds": lambda t, c: Figure.ratio(
        t.acknowledge_seconds, t.alerts_acknowledged, "seconds"
    ),
    "average_resolve_seconds": lambda t, c: Figure.ratio(
        t.resolve_seconds, t.alerts_resolved, "seconds"
    ),
    "planned_distance_km": lambda t, c: _route_total(t, t.planned_distance_m / 1000, "km"),
    "actual_distance_km": lambda t, c: _route_total(t, t.actual_distance_m / 1000, "km"),
    "distance_vs_plan": lambda t, c: Figure.ratio(
        t.actual_distance_m, t.planned_distance_m, "ratio"
    ),
    "planned_duration_seconds": lambda t, c: _route_total(t, t.planned_seconds, "seconds"),
    "actual_duration_seconds": lambda t, c: _route_total(t, t.actual_seconds, "seconds"),
    "duration_vs_plan": lambda t, c: Figure.ratio(t.actual_seconds, t.planned_seconds, "ratio"),
    "cost": _cost,
    "cost_per_delivery": _cost_per_delivery,
}


def figures_compute(totals: KpiTotals, costs: CostParameters) -> KpiFigures:
    return KpiFigures(**{name: rule(totals, costs) for name, rule in _RULES.items()})


def figure_compute(name: str, totals: KpiTotals, costs: CostParameters) -> Figure:
    """The one figure `name` of figures_compute(totals, costs)."""
    return _RULES[name](totals, costs)


def _missing(unit: str) -> Figure:
    return Figure(None, None, None, unit)


def _vehicle_total(has_vehicles: bool, amount: float, unit: str) -> Figure:
    return Figure.total(amount, unit) if has_vehicles else _missing(unit)


def _route_total(totals: KpiTotals, amount: float, unit: str) -> Figure:
    return Figure.total(amount, unit) if totals.compared_routes else _missing(unit)


@dataclass(frozen=True)
class EtaAccuracy:
    """The distribution of predicted minus actual arrival (minutes; positive: the ETA was
    late, i.e. the vehicle came earlier than predicted) `horizon_minutes` before arrival."""

    horizon_minutes: int
    predictions: int
    mean_error_minutes: float | None
    mean_absolute_error_minutes: float | None
    within_5_minutes: Figure
    percentiles: dict[int, int]  # 10, 50, 90 -> minutes (histogram resolution: one minute)
    histogram: tuple[tuple[int, int], ...]  # (minute, count), minutes ascending, clipped


def _percentile(pairs: list[tuple[int, int]], total: int, share: float) -> int:
    target = share * total
    running = 0
    for minute, count in pairs:
        running += count
        if running >= target:
            return minute
    return pairs[-1][0]


def eta_accuracy_compute(eta_errors: Mapping[str, Mapping[str, int]]) -> tuple[EtaAccuracy, ...]:
    result = []
    for horizon in ETA_HORIZONS:
        pairs = sorted(
            (int(minute), count) for minute, count in eta_errors.get(str(horizon), {}).items()
        )
        total = sum(count for _, count in pairs)
        if not total:
            result.append(EtaAccuracy(horizon, 0, None, None, _missing("ratio"), {}, tuple(pairs)))
            continue
        within = sum(count for minute, count in pairs if abs(minute) <= 5)
        result.append(
            EtaAccuracy(
                horizon_minutes=horizon,
                predictions=total,
                mean_error_minutes=sum(m * c for m, c in pairs) / total,
                mean_absolute_error_minutes=sum(abs(m) * c for m, c in pairs) / total,
                within_5_minutes=Figure.ratio(within, total, "ratio"),
                percentiles={p: _percentile(pairs, total, p / 100) for p in (10, 50, 90)},
                histogram=tuple(pairs),
            )
        )
    return tuple(result)


def eta_error_minute(predicted_minus_actual_seconds: float) -> str:
    """The histogram bin of one error: whole minutes, rounded, clipped at the ends."""
    minutes = round(predicted_minus_actual_seconds / 60)
    return str(max(-ETA_ERROR_CLIP_MINUTES, min(ETA_ERROR_CLIP_MINUTES, minutes)))
