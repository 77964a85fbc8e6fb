"""The report kinds, one module per source: the KPI interface (kpis), raw positions (tracks),
orders / routes / alerts (operations), daily rollups (rollups)."""

from __future__ import annotations

from ..definitions import ReportKind
from .kpis import ETA_ACCURACY, SUMMARY
from .operations import DELIVERIES, EXCEPTIONS, PLAN_ACTUAL
from .rollups import IDLE
from .tracks import GEOFENCE_VISITS, SPEEDING, STOPS, TRIPS

KINDS: tuple[ReportKind, ...] = (
    SUMMARY,
    TRIPS,
    STOPS,
    DELIVERIES,
    PLAN_ACTUAL,
    EXCEPTIONS,
    IDLE,
    SPEEDING,
    GEOFENCE_VISITS,
    ETA_ACCURACY,
)
