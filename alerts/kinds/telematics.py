# ruff: noqa: RUF009  (bounded()/listed() build dataclass fields, they are not defaults)
"""Telematics kinds: what a vehicle's fixes (or their absence) say."""

from __future__ import annotations

from dataclasses import dataclass

from .base import KindSpec, Mode, bounded, listed, mapped


@dataclass(frozen=True)
class VehicleOfflineParams:
    minutes: float = bounded(10, low=1, high=24 * 60, help="No fix for this many minutes.")


@dataclass(frozen=True)
class BatteryLowParams:
    below_pct: float = bounded(15, low=1, high=90, help="Battery at or under this share.")
    hysteresis_pct: float = bounded(5, low=0, high=50, help="Clears above the level plus this.")


@dataclass(frozen=True)
class DataQualityParams:
    refused_share: float = bounded(0.2, low=0.01, high=1, help="Refused / all fixes, 0..1.")
    window_minutes: float = bounded(30, low=5, high=24 * 60, help="Over this window.")
    min_fixes: int = bounded(20, low=1, high=100000, help="Ignore windows with fewer fixes.")


@dataclass(frozen=True)
class IdleParams:
    below_kmh: float = bounded(3, low=0, high=20, help="Speed under this counts as standing.")
    minutes: float = bounded(10, low=1, high=24 * 60, help="For this long.")
    stop_radius_m: float = bounded(
        150, low=10, high=5000, help="Within this of a planned stop or hub: not idle."
    )


@dataclass(frozen=True)
class UnplannedStopParams:
    below_kmh: float = bounded(3, low=0, high=20)
    minutes: float = bounded(8, low=1, high=24 * 60)
    stop_radius_m: float = bounded(
        250, low=10, high=5000, help="Farther than this from every stop and hub."
    )


@dataclass(frozen=True)
class SpeedingParams:
    limit_kmh: float = bounded(90, low=10, high=250)
    use_zone_limit: bool = True
    # {"<zone id>": limit km/h}: inside such a zone its (lower) limit applies.
    zone_limits: dict[str, float] = mapped("Per-zone limits, {zone id: km/h}.")
    min_seconds: float = bounded(20, low=0, high=3600, help="Over the limit for this long.")
    hysteresis_kmh: float = bounded(5, low=0, high=50, help="Clears under the limit minus this.")


@dataclass(frozen=True)
class GeofenceParams:
    # Empty: the rule's scope zones, else the organization's zones of `zone_kinds`.
    zone_ids: list[int] = listed("Zones to watch; empty: the rule's scope zones or zone kinds.")
    zone_kinds: list[str] = listed("Zone kinds to watch when no zone is named.")
    min_seconds: float = bounded(30, low=0, high=3600)
    buffer_m: float = bounded(
        30, low=0, high=2000, help="Ignore crossings closer than this to the edge."
    )


@dataclass(frozen=True)
class RouteDeviationParams:
    corridor_m: float = bounded(
        400, low=25, high=20000, help="Farther than this from the remaining route."
    )
    hysteresis_m: float = bounded(100, low=0, high=5000)
    min_seconds: float = bounded(60, low=0, high=3600)


TELEMATICS = [
    KindSpec("vehicle_offline", "Vehicle offline", "telematics", Mode.SWEEP, "vehicle", VehicleOfflineParams,
             "No fix for N minutes; the rule's minimum duration adds to it so short gaps never alert."),
    KindSpec("battery_low", "Device battery low", "telematics", Mode.STREAM, "vehicle", BatteryLowParams,
             "The device reports battery under a level; clears above the level plus hysteresis."),
    KindSpec("data_quality", "Data quality (refused fixes)", "telematics", Mode.SWEEP, "device",
             DataQualityParams, "The share of refused fixes of a device over a window."),
    KindSpec("idle", "Idle", "telematics", Mode.STREAM, "vehicle", IdleParams,
             "Engine on (or unknown) and under v km/h for N minutes, away from planned stops and hubs."),
    KindSpec("unplanned_stop", "Unplanned stop", "telematics", Mode.STREAM, "vehicle", UnplannedStopParams,
             "Stationary N minutes farther than a radius from every stop of its route and every hub."),
    KindSpec("speeding", "Speeding", "telematics", Mode.STREAM, "vehicle", SpeedingParams,
             "Over the limit (or a zone's lower limit) for N seconds; one alert per episode, with peak."),
    KindSpec("geofence_enter", "Geofence enter", "telematics", Mode.STREAM, "vehicle", GeofenceParams,
             "Inside a watched zone (e.g. restricted) for N seconds; ends on leaving."),
    KindSpec("geofence_exit", "Geofence exit", "telematics", Mode.STREAM, "vehicle", GeofenceParams,
             "Outside every watched zone (e.g. the hub's service area) for N seconds; ends on return."),
    KindSpec("route_deviation", "Route deviation", "telematics", Mode.STREAM, "vehicle", RouteDeviationParams,
             "Farther than N m from the segments of the planned remaining route."),
]  # fmt: skip
