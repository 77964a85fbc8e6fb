"""What an ingest request asks of the pipeline: resolve devices, filter, write, report per fix."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from fleet.live.broadcast import LiveBroadcaster

from .database import Unavailable, conninfo_from_settings
from .decode import Fix
from .directory import DeviceDirectory, DeviceInfo
from .filters import fix_refusal
from .writer import GroupCommitWriter, Item

logger = logging.getLogger(__name__)

UNKNOWN_DEVICE = "unknown_device"
UNAUTHORIZED = "unauthorized"


class IngestService:
    def __init__(self, conninfo: str, *, broadcast: Any = None, max_delay: float = 0.02) -> None:
        self.directory = DeviceDirectory(conninfo)
        self.writer = GroupCommitWriter(
            conninfo, self.directory, broadcast=broadcast, max_delay=max_delay
        )

    async def ingest(
        self, fixes: list[Fix], *, authorized: Callable[[DeviceInfo, Fix], bool]
    ) -> list[str]:
        """One outcome per fix: stored, duplicate, rejected:<reason>, unknown_device, unauthorized.
        Raises Unavailable when the database cannot take them (nothing was acknowledged)."""
        now = dt.datetime.now(dt.UTC)
        outcomes: list[str] = [""] * len(fixes)
        items: list[tuple[int, Item]] = []
        try:
            await self.directory.ensure_fresh()
            devices = self.directory.devices
            for index, fix in enumerate(fixes):
                device = devices.get(fix.device_key) or await self.directory.lookup(fix.device_key)
                if device is None or not device.active:
                    outcomes[index] = UNKNOWN_DEVICE
                    continue
                if not authorized(device, fix):
                    outcomes[index] = UNAUTHORIZED
                    continue
                previous = (
                    self.directory.last_fix.get(device.vehicle_id) if device.vehicle_id else None
                )
                refusal = fix.refusal or fix_refusal(
                    latitude=fix.latitude,
                    longitude=fix.longitude,
                    fix_time=fix.fix_time,
                    accuracy_m=fix.accuracy_m,
                    now=now,
                    limits=device.limits,
                    previous=previous,
                )
                items.append((index, Item(fix, device, now, refusal)))
        except Unavailable:
            raise
        except Exception as exc:  # directory load failed: the database is unreachable
            raise Unavailable(str(exc)) from exc
        if items:
            await self.writer.submit([item for _, item in items])
        for index, item in items:
            outcomes[index] = (
                f"rejected:{item.refusal[0]}"
                if item.outcome == "rejected" and item.refusal
                else item.outcome
            )
        return outcomes


_service: IngestService | None = None


def ingest_service() -> IngestService:
    """The process's one pipeline, created in the server's event loop on first use."""
    global _service
    if _service is None:
        _service = IngestService(conninfo_from_settings(), broadcast=LiveBroadcaster())
    return _service
