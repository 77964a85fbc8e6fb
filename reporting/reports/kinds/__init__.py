"""The report kinds, one module per source: raw positions (tracks), orders / routes / alerts
(operations), daily rollups (rollups)."""

from __future__ import annotations

from ..definitions import ReportKind
from .operations import DELIVERIES, EXCEPTIONS, PLAN_ACTUAL
from .rollups import IDLE
from .tracks import GEOFENCE_VISITS, SPEEDING, STOPS, TRIPS

KINDS: tuple[ReportKind, ...] = (
    TRIPS,
    STOPS,
    DELIVERIES,
    PLAN_ACTUAL,
    EXCEPTIONS,
    IDLE,
    SPEEDING,
    GEOFENCE_VISITS,
)
