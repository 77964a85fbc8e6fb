"""What the dashboard shows of each figure: its label, how to write it, which way is better,
and where its number drills down to. Presentation only: the figures come from reporting.kpis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Better = Literal["higher", "lower", "neither"]

CURRENCY_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF ", "SEK": "kr ", "PLN": "zł "}


@dataclass(frozen=True)
class TileSpec:
    figure: str  # a KpiFigures field
    label: str
    better: Better
    hint: str  # one line under the number: what it is made of
    order_status: str = ""  # the order list's status filter of its drill-down ("" = any)
    style: str = ""  # how to write it when the unit alone does not say (hours, minutes)
    of_counts: bool = False  # a rate of two counts: "36 of 40" says what it is made of


TILES: tuple[TileSpec, ...] = (
    TileSpec("deliveries", "Deliveries", "higher", "orders delivered", order_status="delivered"),
    TileSpec("on_time_rate", "On-time rate", "higher", "delivered inside the window", order_status="delivered", of_counts=True),
    TileSpec("first_attempt_success_rate", "First-attempt success", "higher", "delivered at the first attempt", of_counts=True),
    TileSpec("failures", "Failed deliveries", "lower", "stops that ended failed", order_status="failed"),
    TileSpec("stops_per_hour", "Stops per hour", "higher", "visited stops per hour on route"),
    TileSpec("average_dwell_seconds", "Average dwell", "lower", "time at the door per stop", style="minutes"),
    TileSpec("utilization", "Utilization", "higher", "time on route over shift time"),
    TileSpec("distance_km", "Distance driven", "neither", "all vehicles"),
    TileSpec("idle_seconds", "Idle time", "lower", "engine on, not moving", style="hours"),
    TileSpec("idle_cost", "Idle cost", "lower", "fuel burnt idling, at the fuel price"),
    TileSpec("speeding_per_100_km", "Speeding", "lower", "episodes per 100 km"),
    TileSpec("cost_per_delivery", "Cost per delivery", "lower", "distance, hours and idling per delivery"),
)  # fmt: skip
TILE_BY_FIGURE = {tile.figure: tile for tile in TILES}

# The figures the worst-offender tables can be ranked by (a tile's "rank by" link).
RANKABLE = tuple(tile.figure for tile in TILES if tile.better != "neither")
DEFAULT_RANK = "on_time_rate"


def _grouped(value: float, decimals: int = 0) -> str:
    return f"{value:,.{decimals}f}".replace(",", "\u202f")  # a narrow space groups thousands


def figure_text(value: float | None, unit: str, style: str = "") -> str:
    """A figure as people read it: 94.2 %, 3.1 / h, 6 min 20 s, 1 234 km, €12.40."""
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value * 100:.1f} %"
    if unit == "count":
        return _grouped(value)
    if unit == "per_hour":
        return f"{value:.1f} / h"
    if unit == "per_100_km":
        return f"{value:.2f}"
    if unit == "km":
        return f"{_grouped(value)} km"
    if unit == "seconds":
        return duration_text(value, style)
    if unit.startswith("currency:"):
        code = unit.split(":", 1)[1]
        sign = CURRENCY_SIGNS.get(code, f"{code} ")
        return f"{sign}{_grouped(value, 2)}"
    return _grouped(value, 1)


def duration_text(seconds: float, style: str = "") -> str:
    if style == "hours" or seconds >= 10 * 3600:
        return f"{_grouped(seconds / 3600, 1)} h"
    if seconds >= 3600:
        hours, rest = divmod(round(seconds), 3600)
        return f"{hours} h {rest // 60:02d} min"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 10 else f"{minutes} min"


@dataclass(frozen=True)
class Change:
    """A figure against the previous period: rates in percentage points, everything else in
    per cent of the previous value; `tone` says whether that is good news."""

    text: str
    direction: Literal["up", "down", "flat"]
    tone: Literal["good", "bad", "neutral"]


def change_of(
    value: float | None, previous: float | None, unit: str, better: Better
) -> Change | None:
    if value is None or previous is None:
        return None
    if unit == "ratio":
        delta = (value - previous) * 100
        text = f"{delta:+.1f} pts"
    elif previous == 0:
        return None
    else:
        delta = (value - previous) / abs(previous) * 100
        text = f"{delta:+.1f} %"
    if abs(delta) < 0.05:
        return Change("±0", "flat", "neutral")
    direction: Literal["up", "down"] = "up" if delta > 0 else "down"
    if better == "neither":
        return Change(text, direction, "neutral")
    good = (direction == "up") == (better == "higher")
    return Change(text, direction, "good" if good else "bad")
