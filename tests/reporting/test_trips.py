"""Trip and stop detection on crafted tracks (pure: no database)."""

from __future__ import annotations

import dataclasses

import pytest

from reporting.trips import (
    DetectionSettings,
    Fix,
    haversine_m,
    stops_detect,
    track_summarize,
    trips_detect,
)
from tests.reporting.tracks import TrackBuilder

SETTINGS = DetectionSettings()


def minutes(n: float) -> float:
    return n * 60


def test_a_working_morning_has_its_trips_and_stops() -> None:
    track = (
        TrackBuilder()
        .park(minutes(10))
        .drive(minutes(10))  # 6 km at 36 km/h
        .park(minutes(15))
        .drive(minutes(5))
        .park(minutes(10))
    )
    trips = trips_detect(track.fixes, SETTINGS)
    stops = stops_detect(track.fixes, SETTINGS)
    assert len(trips) == 2
    assert trips[0].distance_m == pytest.approx(6000, rel=0.02)
    assert trips[0].duration_seconds == pytest.approx(minutes(10), abs=10)
    assert trips[0].max_speed_kmh == 36
    assert trips[1].distance_m == pytest.approx(3000, rel=0.02)
    assert [round(s.duration_seconds / 60) for s in stops] == [10, 15, 10]
    # A stop ends where the next trip starts: the same fix.
    assert stops[1].end_index == trips[1].start_index
    assert stops[1].start_index == trips[0].end_index


def test_jitter_while_parked_makes_no_trip() -> None:
    track = TrackBuilder().park(minutes(120), jitter_m=15, spike_kmh=9)
    assert trips_detect(track.fixes, SETTINGS) == []
    stops = stops_detect(track.fixes, SETTINGS)
    assert len(stops) == 1
    assert stops[0].duration_seconds == pytest.approx(minutes(120), abs=10)
    # The stop sits where the vehicle stood, not wherever the jitter wandered.
    assert haversine_m(stops[0].latitude, stops[0].longitude, 52.37, 4.89) < 15


def test_jitter_without_reported_speed_makes_no_trip() -> None:
    """Without a speed field the implied speed of a 20 m wobble in 10 s is 7 km/h: moving by
    the threshold, but it never leaves the stop's circle."""
    track = TrackBuilder().park(minutes(60), jitter_m=20, report_speed=False)
    assert trips_detect(track.fixes, SETTINGS) == []
    assert len(stops_detect(track.fixes, SETTINGS)) == 1


def test_a_traffic_light_does_not_split_a_trip() -> None:
    track = (
        TrackBuilder()
        .park(minutes(6))
        .drive(minutes(5))
        .park(60)
        .drive(minutes(5))
        .park(minutes(6))
    )
    trips = trips_detect(track.fixes, SETTINGS)
    assert len(trips) == 1
    assert trips[0].distance_m == pytest.approx(6000, rel=0.02)
    assert len(stops_detect(track.fixes, SETTINGS)) == 2  # before and after, not the light


def test_a_pause_shorter_than_the_minimum_stop_is_not_a_stop() -> None:
    settings = dataclasses.replace(SETTINGS, min_stop_seconds=600)
    track = TrackBuilder().drive(minutes(5)).park(minutes(8)).drive(minutes(5))
    assert stops_detect(track.fixes, settings) == []
    assert len(trips_detect(track.fixes, settings)) == 1  # merged across the short pause
    assert len(trips_detect(track.fixes, SETTINGS)) == 2  # 8 minutes is a stop at 5


def test_moving_across_the_car_park_is_not_a_trip() -> None:
    track = TrackBuilder().park(minutes(10)).drive(20, kmh=18).park(minutes(10))  # 100 m
    assert trips_detect(track.fixes, SETTINGS) == []
    stops = stops_detect(track.fixes, SETTINGS)
    assert len(stops) == 1 and stops[0].duration_seconds == pytest.approx(minutes(20), abs=30)


def test_the_minimum_trip_distance_and_duration_come_from_the_settings() -> None:
    track = TrackBuilder().park(minutes(10)).drive(minutes(1)).park(minutes(10))  # 600 m
    assert len(trips_detect(track.fixes, SETTINGS)) == 1
    assert trips_detect(track.fixes, dataclasses.replace(SETTINGS, min_trip_distance_m=1000)) == []
    assert trips_detect(track.fixes, dataclasses.replace(SETTINGS, min_trip_seconds=120)) == []


def test_a_gap_splits_a_trip() -> None:
    track = (
        TrackBuilder()
        .park(minutes(6))
        .drive(minutes(5))
        .silence(minutes(20))
        .jump(10_000)
        .drive(minutes(5))
        .park(minutes(6))
    )
    trips = trips_detect(track.fixes, SETTINGS)
    assert len(trips) == 2
    # Neither trip counts the 10 km jump across the gap.
    assert all(t.distance_m == pytest.approx(3000, rel=0.05) for t in trips)
    assert trips[0].end_time < trips[1].start_time
    # No stop is invented inside the gap: only the parked stretches at both ends.
    assert len(stops_detect(track.fixes, SETTINGS)) == 2


def test_a_stop_survives_a_sleeping_tracker() -> None:
    """Parked with the ignition off, the tracker sleeps for two hours: one stop, not two."""
    track = (
        TrackBuilder()
        .drive(minutes(5), ignition=True)
        .park(minutes(3), ignition=False)
        .silence(minutes(120))
        .park(minutes(3), ignition=False)
        .drive(minutes(5), ignition=True)
    )
    stops = stops_detect(track.fixes, SETTINGS)
    assert len(stops) == 1
    assert stops[0].duration_seconds == pytest.approx(minutes(126), abs=30)
    assert len(trips_detect(track.fixes, SETTINGS)) == 2


def test_ignition_off_overrules_gps_speed() -> None:
    """Parked, engine off, the GPS reports 20 km/h spikes and wanders: still."""
    track = TrackBuilder().park(minutes(60), ignition=False, jitter_m=25, spike_kmh=20)
    assert trips_detect(track.fixes, SETTINGS) == []


def test_ignition_is_ignored_when_the_organization_says_so() -> None:
    """A towed vehicle: ignition off, but it moves 3 km."""
    track = TrackBuilder().park(minutes(6), ignition=False).drive(minutes(5), ignition=False)
    track.park(minutes(6), ignition=False)
    assert trips_detect(track.fixes, SETTINGS) == []
    without = dataclasses.replace(SETTINGS, use_ignition=False)
    assert len(trips_detect(track.fixes, without)) == 1


def test_idling_with_the_engine_on_is_an_idle_stop() -> None:
    track = (
        TrackBuilder()
        .drive(minutes(5), ignition=True)
        .park(minutes(10), ignition=True)  # waiting at the dock, engine running
        .drive(minutes(5), ignition=True)
        .park(minutes(10), ignition=False)
    )
    summary = track_summarize(track.fixes, SETTINGS)
    assert [s.engine_on for s in summary.stops] == [True, False]
    assert summary.idle_seconds == pytest.approx(minutes(10), abs=20)
    assert summary.stopped_seconds == pytest.approx(minutes(10), abs=20)
    assert summary.moving_seconds == pytest.approx(minutes(10), abs=30)


def test_the_day_split_adds_up_to_the_time_with_data() -> None:
    track = (
        TrackBuilder()
        .park(minutes(12))
        .drive(minutes(7))
        .park(minutes(2))  # a short pause: part of the trip (2 < 5 minutes)
        .drive(minutes(3))
        .silence(minutes(30))
        .jump(5000)
        .drive(minutes(4))
        .park(minutes(9))
    )
    summary = track_summarize(track.fixes, SETTINGS)
    with_data = track.fixes[-1].timestamp - track.fixes[0].timestamp - minutes(30)
    total = summary.moving_seconds + summary.idle_seconds + summary.stopped_seconds
    assert total == pytest.approx(with_data, abs=20)
    assert summary.distance_m == pytest.approx(sum(t.distance_m for t in summary.trips))
    assert summary.max_speed_kmh == 36


@pytest.mark.parametrize("fixes", [[], [Fix(0, 52.0, 4.0, 0.0)]])
def test_too_few_fixes_have_no_trips_or_stops(fixes: list[Fix]) -> None:
    assert trips_detect(fixes, SETTINGS) == []
    assert stops_detect(fixes, SETTINGS) == []
    assert track_summarize(fixes, SETTINGS).distance_m == 0
