"""The device directory of one web process: every device with its vehicle and limits, and every
vehicle's last fix, held in memory and reloaded in the background, so a request resolves its
device without a query."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from fleet.live.schema import vehicle_descriptive
from tenancy.tokens import token_hash

from .database import Unavailable
from .filters import LastFix, Limits

logger = logging.getLogger(__name__)

RELOAD_BACKOFF_SECONDS = 1.0


@dataclass(slots=True)
class DeviceInfo:
    device_id: int
    organization_id: int
    vehicle_id: int | None
    token_hash: str
    active: bool
    speed_unit: str
    require_token: bool
    limits: Limits
    vehicle: dict[str, Any] = field(default_factory=dict)

    def token_ok(self, token: str | None) -> bool:
        return bool(token) and self.digest_ok(token_hash(token or ""))

    def digest_ok(self, digest: str) -> bool:
        return bool(self.token_hash) and hmac.compare_digest(digest, self.token_hash)


DIRECTORY_SQL = """
SELECT d.id, d.identifier, d.organization_id, d.vehicle_id, d.token_hash, d.active,
       d.filter_overrides, o.osmand_speed_unit,
       v.plate, v.name, v.hub_id, h.name, dr.name, v.tags,
       ts.max_future_seconds, ts.max_age_seconds, ts.max_accuracy_m, ts.max_jump_kmh,
       ts.moving_speed_kmh, ts.stopped_after_seconds, ts.offline_after_seconds,
       ts.require_device_token
FROM fleet_device d
JOIN tenancy_organization o ON o.id = d.organization_id
LEFT JOIN fleet_vehicle v ON v.id = d.vehicle_id
LEFT JOIN fleet_hub h ON h.id = v.hub_id
LEFT JOIN fleet_driver dr ON dr.id = v.driver_id
LEFT JOIN fleet_trackingsettings ts ON ts.organization_id = d.organization_id
"""

LIMIT_FIELDS = (
    "max_future_seconds",
    "max_age_seconds",
    "max_accuracy_m",
    "max_jump_kmh",
    "moving_speed_kmh",
    "stopped_after_seconds",
    "offline_after_seconds",
)


def limits_from_row(values: tuple[Any, ...], overrides: dict[str, Any]) -> Limits:
    base = Limits()
    merged = {
        name: (float(value) if value is not None else getattr(base, name))
        for name, value in zip(LIMIT_FIELDS, values, strict=True)
    }
    for name, value in (overrides or {}).items():
        if name in merged and isinstance(value, int | float):
            merged[name] = float(value)
    return Limits(**merged)


def directory_read(conninfo: str) -> tuple[dict[str, DeviceInfo], list[tuple[Any, ...]]]:
    """Every device with its vehicle and limits, and every vehicle's last fix (blocking)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(DIRECTORY_SQL).fetchall()
        states = conn.execute(
            "SELECT vehicle_id, fix_time, latitude, longitude, stationary_since "
            "FROM fleet_vehiclestate"
        ).fetchall()
    return {row[1]: device_from_row(row) for row in rows}, states


def device_from_row(row: tuple[Any, ...]) -> DeviceInfo:
    (
        device_id,
        identifier,
        org_id,
        vehicle_id,
        token_hash,
        active,
        overrides,
        speed_unit,
        plate,
        name,
        hub_id,
        hub,
        driver,
        tags,
        *rest,
    ) = row
    return DeviceInfo(
        device_id=device_id,
        organization_id=org_id,
        vehicle_id=vehicle_id,
        token_hash=token_hash,
        active=active,
        speed_unit=speed_unit,
        require_token=bool(rest[-1]),
        limits=limits_from_row(tuple(rest[:-1]), overrides),
        vehicle=vehicle_descriptive(
            plate=plate,
            name=name,
            hub_id=hub_id,
            hub=hub,
            driver=driver,
            device=identifier,
            tags=tags,
        ),
    )


class DeviceDirectory:
    """identifier -> DeviceInfo, plus each vehicle's last fix; reloaded in the background."""

    def __init__(self, conninfo: str, *, max_age: float = 30.0, miss_reload_gap: float = 2.0):
        self.conninfo = conninfo
        self.max_age = max_age
        self.miss_reload_gap = miss_reload_gap
        self.devices: dict[str, DeviceInfo] = {}
        self.last_fix: dict[int, LastFix] = {}
        self.loaded_at = 0.0
        self.failed_at = -RELOAD_BACKOFF_SECONDS
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None

    async def reload(self, *, unless_younger_than: float = 0.0) -> None:
        """Reload from the database. Requests that queued behind a reload find it fresh and
        return at once (no stampede); after a failure, others fail fast for a second instead of
        each waiting out its own connection timeout while the database is down."""
        async with self._lock:
            now = time.monotonic()
            if self.devices and now - self.loaded_at < unless_younger_than:
                return
            if now - self.failed_at < RELOAD_BACKOFF_SECONDS:
                raise Unavailable("device directory unavailable (backing off)")
            try:
                await self._load()
            except Exception:
                self.failed_at = time.monotonic()
                raise

    async def _load(self) -> None:
        # Reading and building thousands of devices takes tens of milliseconds of Python: in a
        # worker thread the event loop keeps answering fixes meanwhile (it gets the GIL back
        # every few milliseconds) instead of stalling every request for the whole reload.
        devices, states = await asyncio.to_thread(directory_read, self.conninfo)
        self.devices = devices
        known = self.last_fix
        for vehicle_id, fix_time, lat, lon, stationary_since in states:
            current = known.get(vehicle_id)
            if current is None or current.fix_time < fix_time:
                known[vehicle_id] = LastFix(fix_time, lat, lon, stationary_since)
        self.loaded_at = time.monotonic()

    async def ensure_fresh(self) -> None:
        """Only the first load is waited for. Later ones run in the background while requests
        go on with the directory they have: a reload of thousands of devices every `max_age`
        seconds would otherwise hold up every request that arrives meanwhile."""
        if not self.devices:
            await self.reload(unless_younger_than=self.max_age)
        elif time.monotonic() - self.loaded_at > self.max_age:
            self._refresh_in_background()

    def _refresh_in_background(self) -> None:
        if self._refresh is not None and not self._refresh.done():
            return
        if time.monotonic() - self.failed_at < RELOAD_BACKOFF_SECONDS:
            return
        self._refresh = asyncio.get_running_loop().create_task(self._background_reload())

    async def _background_reload(self) -> None:
        try:
            await self.reload(unless_younger_than=self.max_age)
        except Exception as exc:  # the database is away: keep serving the directory we have
            logger.warning("device directory refresh failed, keeping the previous one: %r", exc)

    async def lookup(self, identifier: str) -> DeviceInfo | None:
        await self.ensure_fresh()
        device = self.devices.get(identifier)
        if device is None and time.monotonic() - self.loaded_at > self.miss_reload_gap:
            # A device added in the admin a moment ago; reloads are rate-limited so a flood of
            # unknown ids cannot turn into a flood of queries.
            await self.reload(unless_younger_than=self.miss_reload_gap)
            device = self.devices.get(identifier)
        return device
