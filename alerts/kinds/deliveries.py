"""Delivery kinds: what the plan and the orders' state say, swept by beat."""

from __future__ import annotations

from dataclasses import dataclass

from .base import KindSpec, Mode, bounded


@dataclass(frozen=True)
class LateRiskParams:
    minutes_past_window: float = bounded(
        0, low=-120, high=240, help="ETA later than the window end plus this (negative: earlier)."
    )
    # Each remaining stop before this one adds this much slack, for fleets whose ETAs slip the
    # farther down the route they look. Off by default: on bench/late_risk.py's simulated routes
    # any slack raised false alarms (1.5 min: 26 % of flags) faster than it caught late stops
    # earlier (docs/benchmarks.md, late-risk quality).
    slack_per_stop_minutes: float = bounded(0, low=0, high=30)
    horizon_minutes: float = bounded(180, low=10, high=24 * 60, help="Only stops due within this.")


@dataclass(frozen=True)
class LateParams:
    grace_minutes: float = bounded(0, low=0, high=240, help="Window end passed by this much.")


@dataclass(frozen=True)
class LongDwellParams:
    minutes_over_service: float = bounded(
        10, low=0, high=600, help="Beyond the order's service time."
    )


@dataclass(frozen=True)
class DeliveryFailedParams:
    pass


@dataclass(frozen=True)
class RouteNotStartedParams:
    minutes_late: float = bounded(
        15, low=0, high=600, help="After the first stop's planned departure window."
    )


DELIVERIES = [
    KindSpec("late_risk", "Late risk", "deliveries", Mode.SWEEP, "order", LateRiskParams,
             "The stop's ETA (plus slack for the stops before it) is past the window end."),
    KindSpec("late", "Late", "deliveries", Mode.SWEEP, "order", LateParams,
             "The window has passed and the order is not delivered."),
    KindSpec("long_dwell", "Long dwell at a customer", "deliveries", Mode.SWEEP, "stop", LongDwellParams,
             "Arrived and not departed after the service time plus N minutes."),
    KindSpec("delivery_failed", "Failed delivery", "deliveries", Mode.EVENT, "order", DeliveryFailedParams,
             "An order was marked failed; ends when it moves on (re-attempt, return)."),
    KindSpec("route_not_started", "Route not started", "deliveries", Mode.SWEEP, "route",
             RouteNotStartedParams, "Today's route is not in progress N minutes after its planned start."),
]  # fmt: skip
