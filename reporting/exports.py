"""A track as a file: GPX (gpxpy), KML (simplekml) and CSV. Pure: columns in, text out.

CSV cells that hold text are neutralised against formula injection: a spreadsheet runs a cell
that starts with = + - @ (or a tab / carriage return in front of one) as a formula, and a plate
or a name is typed by people. Numbers are written as numbers and need no such care."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Iterable

import gpxpy.gpx
import simplekml

from .selectors import TrackColumns

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
CSV_HEADER = (
    "vehicle",
    "time_utc",
    "time_local",
    "latitude",
    "longitude",
    "speed_kmh",
    "heading",
    "altitude_m",
    "ignition",
)


def formula_like(text: str) -> bool:
    """Would a spreadsheet run this text as a formula?"""
    return text.startswith(FORMULA_TRIGGERS)


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet shows as text, never runs (OWASP's advice: a leading apostrophe)."""
    return f"'{text}" if formula_like(text) else text


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def track_gpx(track: TrackColumns, *, name: str, description: str = "") -> str:
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "Doorstep"
    gpx_track = gpxpy.gpx.GPXTrack(name=name, description=description or None)
    gpx.tracks.append(gpx_track)
    segment = gpxpy.gpx.GPXTrackSegment()
    gpx_track.segments.append(segment)
    for i, timestamp in enumerate(track.timestamp):
        speed = track.speed_kmh[i]
        segment.points.append(
            gpxpy.gpx.GPXTrackPoint(
                latitude=track.latitude[i],
                longitude=track.longitude[i],
                elevation=track.altitude_m[i],
                time=_utc(timestamp),
                speed=None if speed is None else speed / 3.6,  # GPX speaks m/s
            )
        )
    return gpx.to_xml(version="1.1")


def track_kml(track: TrackColumns, *, name: str, description: str = "") -> str:
    kml = simplekml.Kml(name=name)
    # gx:Track keeps each point's time, so Google Earth can replay the day.
    gx_track = kml.newgxtrack(name=name, description=description or None)
    gx_track.newwhen([_utc(t).isoformat().replace("+00:00", "Z") for t in track.timestamp])
    gx_track.newgxcoord(
        [
            (lon, lat, alt or 0.0)
            for lat, lon, alt in zip(track.latitude, track.longitude, track.altitude_m, strict=True)
        ]
    )
    gx_track.style.linestyle.color = "ffd07a1e"  # aabbggrr: the console's route blue
    gx_track.style.linestyle.width = 4
    return str(kml.kml())


def _csv_rows(track: TrackColumns, *, vehicle: str, timezone: str) -> Iterable[list[object]]:
    zone = zoneinfo.ZoneInfo(timezone)
    label = spreadsheet_safe(vehicle)
    for i, timestamp in enumerate(track.timestamp):
        moment = _utc(timestamp)
        ignition = track.ignition[i]
        yield [
            label,
            moment.isoformat().replace("+00:00", "Z"),
            moment.astimezone(zone).isoformat(),
            track.latitude[i],
            track.longitude[i],
            "" if track.speed_kmh[i] is None else track.speed_kmh[i],
            "" if track.heading[i] is None else track.heading[i],
            "" if track.altitude_m[i] is None else track.altitude_m[i],
            "" if ignition is None else ("on" if ignition else "off"),
        ]


def track_csv(track: TrackColumns, *, vehicle: str, timezone: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_rows(track, vehicle=vehicle, timezone=timezone))
    return buffer.getvalue()
