"""Active hours in the organization's time zone. Windows are wall-clock times on local
weekdays, so a rule active 07:00-19:00 stays 07:00-19:00 local across a DST change (its UTC
span moves by an hour)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # Monday is 0
    start_minute: int
    end_minute: int  # may be below start: the window runs past midnight

    def contains(self, weekday: int, minute: int) -> bool:
        if self.start_minute <= self.end_minute:
            return weekday in self.days and self.start_minute <= minute < self.end_minute
        # Overnight: the evening part belongs to `weekday`, the morning part to the day before.
        if weekday in self.days and minute >= self.start_minute:
            return True
        return (weekday - 1) % 7 in self.days and minute < self.end_minute


@dataclass(frozen=True)
class ActiveHours:
    windows: tuple[Window, ...]
    zone: zoneinfo.ZoneInfo
    holidays: frozenset[dt.date] = frozenset()
    holidays_off: bool = False

    def active_at(self, at: dt.datetime) -> bool:
        local = at.astimezone(self.zone)
        if self.holidays_off and local.date() in self.holidays:
            return False
        if not self.windows:
            return True
        minute = local.hour * 60 + local.minute
        return any(w.contains(local.weekday(), minute) for w in self.windows)


def _minute(text: Any, field: str) -> int:
    match = _TIME.match(text) if isinstance(text, str) else None
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValidationError({"active_hours": f"{field} must be HH:MM, got {text!r}."})
    return int(match.group(1)) * 60 + int(match.group(2))


def windows_parse(raw: Sequence[Mapping[str, Any]] | None) -> tuple[Window, ...]:
    """`[{"days": [0, 1, 2, 3, 4], "start": "07:00", "end": "19:00"}, ...]`; empty: always."""
    if raw in (None, []):
        return ()
    if not isinstance(raw, list):
        raise ValidationError({"active_hours": "Must be a list of windows."})
    windows = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"days", "start", "end"}:
            raise ValidationError({"active_hours": 'Each window is {"days", "start", "end"}.'})
        days = item.get("days", list(range(7)))
        if not isinstance(days, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days
        ):
            raise ValidationError({"active_hours": "days are numbers 0 (Monday) to 6."})
        start, end = _minute(item.get("start"), "start"), _minute(item.get("end"), "end")
        if start == end:
            raise ValidationError({"active_hours": "A window must not be empty."})
        windows.append(Window(frozenset(days), start, end))
    return tuple(windows)


def active_hours_build(
    raw: Sequence[Mapping[str, Any]] | None,
    *,
    time_zone: str,
    holidays: Iterable[dt.date] = (),
    holidays_off: bool = False,
) -> ActiveHours:
    return ActiveHours(
        windows=windows_parse(raw),
        zone=zoneinfo.ZoneInfo(time_zone),
        holidays=frozenset(holidays),
        holidays_off=holidays_off,
    )
