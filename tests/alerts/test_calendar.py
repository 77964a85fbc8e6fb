"""Active hours in the organization's zone, across a DST change, with holidays."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from alerts.evaluation.calendar import active_hours_build

UTC = dt.UTC
WEEKDAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "07:00", "end": "19:00"}]


def test_local_hours_hold_across_the_spring_dst_change() -> None:
    hours = active_hours_build(WEEKDAYS, time_zone="Europe/Berlin")
    # 2026-03-28 is CET (UTC+1); 2026-03-29 is CEST (UTC+2) after 02:00 local.
    assert not hours.active_at(dt.datetime(2026, 3, 28, 5, 30, tzinfo=UTC))  # 06:30 local
    assert hours.active_at(dt.datetime(2026, 3, 28, 6, 0, tzinfo=UTC))  # 07:00 local
    assert hours.active_at(dt.datetime(2026, 3, 29, 5, 0, tzinfo=UTC))  # 07:00 local (CEST)
    assert not hours.active_at(dt.datetime(2026, 3, 29, 4, 59, tzinfo=UTC))  # 06:59 local
    assert not hours.active_at(dt.datetime(2026, 3, 29, 17, 0, tzinfo=UTC))  # 19:00 local


def test_local_hours_hold_across_the_autumn_dst_change() -> None:
    hours = active_hours_build(WEEKDAYS, time_zone="America/New_York")
    # 2026-11-01: EDT (UTC-4) until 02:00 local, then EST (UTC-5).
    assert hours.active_at(dt.datetime(2026, 10, 31, 11, 0, tzinfo=UTC))  # 07:00 EDT
    assert not hours.active_at(dt.datetime(2026, 11, 1, 11, 30, tzinfo=UTC))  # 06:30 EST
    assert hours.active_at(dt.datetime(2026, 11, 1, 12, 0, tzinfo=UTC))  # 07:00 EST


def test_overnight_windows_and_weekdays() -> None:
    nights = active_hours_build([{"days": [4], "start": "22:00", "end": "06:00"}], time_zone="UTC")
    assert nights.active_at(dt.datetime(2026, 12, 4, 23, 0, tzinfo=UTC))  # Friday night
    assert nights.active_at(dt.datetime(2026, 12, 5, 5, 0, tzinfo=UTC))  # Saturday morning
    assert not nights.active_at(dt.datetime(2026, 12, 5, 23, 0, tzinfo=UTC))


def test_holidays_off() -> None:
    hours = active_hours_build([], time_zone="Europe/Berlin", holidays=[dt.date(2026, 12, 25)],
                               holidays_off=True)  # fmt: skip
    assert not hours.active_at(dt.datetime(2026, 12, 25, 10, 0, tzinfo=UTC))
    # 23:30 UTC on the 25th is already the 26th in Berlin.
    assert hours.active_at(dt.datetime(2026, 12, 25, 23, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    "raw",
    [
        [{"days": [7], "start": "07:00", "end": "08:00"}],
        [{"start": "7am", "end": "08:00"}],
        [{"start": "08:00", "end": "08:00"}],
        [{"start": "08:00", "end": "09:00", "colour": "red"}],
        "always",
    ],
)
def test_bad_windows_are_refused(raw: object) -> None:
    with pytest.raises(ValidationError):
        active_hours_build(raw, time_zone="UTC")  # type: ignore[arg-type]
