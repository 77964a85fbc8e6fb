"""Crafted tracks for the trip and stop tests: a start, then legs appended one after another."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from reporting.trips import Fix

METRES_PER_DEGREE_LAT = 111_195.0


@dataclass
class TrackBuilder:
    """Fixes every `every` seconds; driving goes due east at a steady speed."""

    timestamp: float = 1_780_000_000.0
    latitude: float = 52.37
    longitude: float = 4.89
    every: float = 10.0
    heading: float = 90.0  # degrees clockwise from north: east
    fixes: list[Fix] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def _emit(self, speed: float | None, ignition: bool | None, lat: float, lon: float) -> None:
        self.fixes.append(Fix(self.timestamp, lat, lon, speed, ignition))

    def drive(
        self, seconds: float, kmh: float = 36.0, ignition: bool | None = None
    ) -> TrackBuilder:
        metres_per_fix = kmh / 3.6 * self.every
        per_degree_lon = METRES_PER_DEGREE_LAT * math.cos(math.radians(self.latitude))
        north = math.cos(math.radians(self.heading)) * metres_per_fix
        east = math.sin(math.radians(self.heading)) * metres_per_fix
        for _ in range(int(seconds / self.every)):
            self.timestamp += self.every
            self.latitude += north / METRES_PER_DEGREE_LAT
            self.longitude += east / per_degree_lon
            self._emit(kmh, ignition, self.latitude, self.longitude)
        return self

    def turn(self, degrees: float) -> TrackBuilder:
        self.heading = (self.heading + degrees) % 360
        return self

    def park(
        self,
        seconds: float,
        *,
        ignition: bool | None = None,
        jitter_m: float = 0.0,
        spike_kmh: float = 0.0,
        report_speed: bool = True,
    ) -> TrackBuilder:
        """Stand still; with jitter the fixes wander and now and then report a speed spike."""
        for _ in range(int(seconds / self.every)):
            self.timestamp += self.every
            d_lat = self.rng.uniform(-jitter_m, jitter_m) / METRES_PER_DEGREE_LAT
            d_lon = self.rng.uniform(-jitter_m, jitter_m) / METRES_PER_DEGREE_LAT
            speed = spike_kmh if spike_kmh and self.rng.random() < 0.2 else 0.0
            self._emit(
                speed if report_speed else None,
                ignition,
                self.latitude + d_lat,
                self.longitude + d_lon,
            )
        return self

    def silence(self, seconds: float) -> TrackBuilder:
        """No data for a while (tunnel, dead battery, a sleeping tracker)."""
        self.timestamp += seconds
        return self

    def jump(self, metres_east: float) -> TrackBuilder:
        """Teleport (used with silence: moved while no fix came in)."""
        per_degree_lon = METRES_PER_DEGREE_LAT * math.cos(math.radians(self.latitude))
        self.longitude += metres_east / per_degree_lon
        return self


def delivery_day(
    start_timestamp: float, *, hours: float = 24.0, every: float = 10.0
) -> TrackBuilder:
    """A van's whole day, a fix every `every` s: parked at the depot, then rounds of driving
    (with traffic-light pauses and turns) and delivery stops, then parked again till midnight.
    24 h at 10 s is the 8,640 fixes of the playback benchmark."""
    # The first fix at the very start, the last one `every` s before the end (a half-open day).
    track = TrackBuilder(timestamp=start_timestamp - every, every=every)
    end = start_timestamp + hours * 3600 - every
    track.park(7 * 3600, ignition=False)
    legs = 0
    while track.timestamp < end - 8 * 3600:
        legs += 1
        speed = 20.0 + track.rng.uniform(0, 20)
        track.drive(track.rng.uniform(240, 720), kmh=speed, ignition=True)
        track.park(40, ignition=True)  # a traffic light
        track.turn(track.rng.choice((-90, 90, 45, -45)))
        track.drive(track.rng.uniform(120, 400), kmh=speed + 10, ignition=True)
        track.park(track.rng.uniform(300, 900), ignition=False, jitter_m=6)  # a delivery
        if legs % 3 == 0:
            track.turn(180)  # head back towards the depot now and then
    remaining = end - track.timestamp
    track.park(max(0.0, remaining), ignition=False)
    return track
