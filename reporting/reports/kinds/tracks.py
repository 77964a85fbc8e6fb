"""The kinds read from raw positions, one vehicle-day at a time: trips, stops, speeding
episodes and geofence visits (the rules of the history page: reporting/trips.py)."""

from __future__ import annotations

import datetime as dt

from ... import selectors
from ...trips import stops_detect, trips_detect
from ..definitions import ChartSpec, Column, ColumnKind, Progress, ReportKind, ReportRequest, Row
from ..episodes import polygon_of, speeding_episodes, zone_visits
from ..sources import report_zones, vehicle_days

TEXT, INTEGER, DECIMAL = ColumnKind.TEXT, ColumnKind.INTEGER, ColumnKind.DECIMAL
DATETIME, DATE = ColumnKind.DATETIME, ColumnKind.DATE

VEHICLE = Column("vehicle", "Vehicle")
DRIVER = Column("driver", "Driver")
DAY = Column("day", "Day", DATE)
START = Column("start", "Start", DATETIME)
END = Column("end", "End", DATETIME)


def _at(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 1)


def trips_build(request: ReportRequest, progress: Progress) -> list[Row]:
    settings = selectors.history_settings_get(organization_id=request.organization_id)
    rows: list[Row] = []
    for day in vehicle_days(request, progress):
        for trip in trips_detect(day.fixes, settings):
            rows.append(
                (
                    day.vehicle.plate,
                    day.driver_name,
                    day.day.day,
                    _at(trip.start_time),
                    _at(trip.end_time),
                    _minutes(trip.duration_seconds),
                    round(trip.distance_m / 1000, 2),
                    round(trip.max_speed_kmh, 1),
                )
            )
    return rows


TRIPS = ReportKind(
    key="trips",
    title="Trips",
    description="Every trip of every vehicle: when, how long, how far, how fast.",
    columns=(
        VEHICLE,
        DRIVER,
        DAY,
        START,
        END,
        Column("duration_min", "Duration (min)", DECIMAL),
        Column("distance_km", "Distance (km)", DECIMAL, 2),
        Column("max_speed_kmh", "Top speed (km/h)", DECIMAL),
    ),
    build=trips_build,
    chart=ChartSpec("vehicle", "distance_km", "Distance driven by vehicle (km)"),
)


def stops_build(request: ReportRequest, progress: Progress) -> list[Row]:
    settings = selectors.history_settings_get(organization_id=request.organization_id)
    rows: list[Row] = []
    for day in vehicle_days(request, progress):
        for stop in stops_detect(day.fixes, settings):
            rows.append(
                (
                    day.vehicle.plate,
                    day.driver_name,
                    day.day.day,
                    _at(stop.start_time),
                    _at(stop.end_time),
                    _minutes(stop.duration_seconds),
                    "idling" if stop.engine_on else "parked",
                    round(stop.latitude, 6),
                    round(stop.longitude, 6),
                )
            )
    return rows


STOPS = ReportKind(
    key="stops",
    title="Stops",
    description="Every stop: where, from when to when, and whether the engine kept running.",
    columns=(
        VEHICLE,
        DRIVER,
        DAY,
        START,
        END,
        Column("duration_min", "Duration (min)", DECIMAL),
        Column("engine", "Engine"),
        Column("latitude", "Latitude", DECIMAL, 6),
        Column("longitude", "Longitude", DECIMAL, 6),
    ),
    build=stops_build,
    chart=ChartSpec("vehicle", "duration_min", "Minutes stopped by vehicle"),
)


def speeding_build(request: ReportRequest, progress: Progress) -> list[Row]:
    organization_id = request.organization_id
    settings = selectors.history_settings_get(organization_id=organization_id)
    threshold = selectors.speeding_threshold_kmh(organization_id=organization_id)
    rows: list[Row] = []
    for day in vehicle_days(request, progress):
        episodes = speeding_episodes(
            day.fixes, threshold_kmh=threshold, gap_seconds=settings.gap_seconds
        )
        for episode in episodes:
            rows.append(
                (
                    day.vehicle.plate,
                    day.driver_name,
                    day.day.day,
                    _at(episode.start_time),
                    _at(episode.end_time),
                    round(episode.end_time - episode.start_time),
                    round(episode.max_speed_kmh, 1),
                    threshold,
                    round(episode.latitude, 6),
                    round(episode.longitude, 6),
                )
            )
    return rows


SPEEDING = ReportKind(
    key="speeding",
    title="Speeding",
    description="Every episode above the organization's speeding threshold, with its top speed.",
    columns=(
        VEHICLE,
        DRIVER,
        DAY,
        START,
        END,
        Column("duration_s", "Duration (s)", INTEGER),
        Column("max_speed_kmh", "Top speed (km/h)", DECIMAL),
        Column("threshold_kmh", "Threshold (km/h)", DECIMAL),
        Column("latitude", "Latitude", DECIMAL, 6),
        Column("longitude", "Longitude", DECIMAL, 6),
    ),
    build=speeding_build,
    chart=ChartSpec("vehicle", None, "Speeding episodes by vehicle"),
)


def geofence_visits_build(request: ReportRequest, progress: Progress) -> list[Row]:
    organization_id = request.organization_id
    settings = selectors.history_settings_get(organization_id=organization_id)
    zones = report_zones(organization_id=organization_id, filters=request.filters)
    polygons = {zone.pk: polygon_of(zone.geometry) for zone in zones}
    names = {zone.pk: zone.name for zone in zones}
    rows: list[Row] = []
    if not polygons:
        progress(1.0)
        return rows
    for day in vehicle_days(request, progress):
        for visit in zone_visits(day.fixes, polygons, gap_seconds=settings.gap_seconds):
            rows.append(
                (
                    names[visit.zone_id],
                    day.vehicle.plate,
                    day.driver_name,
                    day.day.day,
                    _at(visit.start_time),
                    _at(visit.end_time),
                    _minutes(visit.duration_seconds),
                    visit.fixes,
                )
            )
    return rows


GEOFENCE_VISITS = ReportKind(
    key="geofence_visits",
    title="Geofence visits",
    description="Each time a vehicle was inside a zone: entered, left, for how long.",
    columns=(
        Column("zone", "Zone"),
        VEHICLE,
        DRIVER,
        DAY,
        Column("entered", "Entered", DATETIME),
        Column("left", "Left", DATETIME),
        Column("duration_min", "Inside (min)", DECIMAL),
        Column("fixes", "Fixes inside", INTEGER),
    ),
    build=geofence_visits_build,
    chart=ChartSpec("zone", "duration_min", "Minutes inside by zone"),
)
