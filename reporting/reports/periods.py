"""Which period a schedule reports on: pure calendar arithmetic in the organization's zone.

A daily report covers yesterday, a weekly one the last Monday-to-Sunday, a monthly one the
last calendar month; each period closes at the local midnight after its last day (which is
23 or 25 hours after the one before on a DST change: the zone decides, never a fixed offset)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # included
    closes_at: dt.datetime  # aware, UTC: the local midnight after `end`


def local_midnight(day: dt.date, timezone: str) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(timezone)
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)


def period_last_closed(frequency: str, *, timezone: str, now: dt.datetime) -> Period:
    """The latest period of `frequency` that has closed at `now`."""
    today = now.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    if frequency == "daily":
        start = end = today - dt.timedelta(days=1)
    elif frequency == "weekly":
        this_monday = today - dt.timedelta(days=today.weekday())
        start, end = this_monday - dt.timedelta(days=7), this_monday - dt.timedelta(days=1)
    elif frequency == "monthly":
        end = today.replace(day=1) - dt.timedelta(days=1)
        start = end.replace(day=1)
    else:
        raise ValueError(f"unknown frequency {frequency!r}")
    return Period(start, end, local_midnight(end + dt.timedelta(days=1), timezone))
