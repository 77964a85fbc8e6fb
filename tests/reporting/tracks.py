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
    fixes: list[Fix] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def _emit(self, speed: float | None, ignition: bool | None, lat: float, lon: float) -> None:
        self.fixes.append(Fix(self.timestamp, lat, lon, speed, ignition))

    def drive(
        self, seconds: float, kmh: float = 36.0, ignition: bool | None = None
    ) -> TrackBuilder:
        metres_per_fix = kmh / 3.6 * self.every
        per_degree_lon = METRES_PER_DEGREE_LAT * math.cos(math.radians(self.latitude))
        for _ in range(int(seconds / self.every)):
            self.timestamp += self.every
            self.longitude += metres_per_fix / per_degree_lon
            self._emit(kmh, ignition, self.latitude, self.longitude)
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
