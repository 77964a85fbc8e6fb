"""Simulated trackers and a simulated map screen for fault tests.

A tracker behaves like a real OsmAnd device: one request at a time, each fix with a new
timestamp; a fix that is not answered 200 is sent again (after a short pause) until it is.
Every attempt is recorded with its start and end time on the monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Attempt:
    device: str
    stamp_ms: int  # the fix's timestamp: (device, stamp_ms) names the fix
    started: float
    ended: float
    status: int | None  # None: no HTTP answer at all (connection error, timeout)
    detail: str = ""


@dataclass
class Trackers:
    base_url: str
    devices: list[str]
    attempts: list[Attempt] = field(default_factory=list)
    acked: set[tuple[str, int]] = field(default_factory=set)
    created: set[tuple[str, int]] = field(default_factory=set)
    retry_pause: float = 0.1
    _new_fixes: bool = True
    _stop: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._device(d, n)) for n, d in enumerate(self.devices)]

    async def _device(self, device: str, number: int) -> None:
        last_ms = 0
        step = 0
        async with httpx.AsyncClient(base_url=self.base_url, timeout=15) as client:
            while not self._stop and self._new_fixes:
                stamp = max(int(time.time() * 1000), last_ms + 1)
                last_ms = stamp
                step += 1
                fix = (device, stamp)
                self.created.add(fix)
                params = {
                    "id": device,
                    "timestamp": str(stamp),
                    "lat": f"{52.37 + number * 0.01 + (step % 50) * 0.00001:.6f}",
                    "lon": f"{4.89 + (step % 50) * 0.00001:.6f}",
                    "speed": "20",
                }
                while not self._stop:  # resend this fix until it is acknowledged
                    started = time.monotonic()
                    try:
                        response = await client.get("/ingest/osmand/", params=params)
                        status, detail = response.status_code, response.text[:200]
                    except httpx.HTTPError as exc:
                        status, detail = None, repr(exc)
                    self.attempts.append(
                        Attempt(device, stamp, started, time.monotonic(), status, detail)
                    )
                    if status == 200:
                        self.acked.add(fix)
                        break
                    await asyncio.sleep(self.retry_pause)
                await asyncio.sleep(0.02)

    def acked_since(self, moment: float) -> int:
        return sum(1 for a in self.attempts if a.status == 200 and a.started >= moment)

    async def wait_acked_since(self, moment: float, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.acked_since(moment) >= count:
                return True
            await asyncio.sleep(0.05)
        return False

    async def finish(self, timeout: float) -> None:
        """Stop making new fixes; let every device get its last fix acknowledged."""
        self._new_fixes = False
        _, pending = await asyncio.wait(self._tasks, timeout=timeout)
        self._stop = True
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def statuses(self, start: float = 0.0, end: float = float("inf")) -> dict[Any, int]:
        """Status counts of the attempts that started and ended inside [start, end]."""
        counts: dict[Any, int] = {}
        for a in self.attempts:
            if a.started >= start and a.ended <= end:
                counts[a.status] = counts.get(a.status, 0) + 1
        return counts


def stamp_ms(value: dt.datetime) -> int:
    return round(value.timestamp() * 1000)


@dataclass
class Frame:
    received: float  # monotonic
    kind: str
    vehicles: list[dict[str, Any]]
    state: str = ""  # of a "feed" frame: "paused" / "live"


@dataclass
class Screen:
    """A live-map screen: connects with a session cookie, subscribes, and reconnects (like the
    browser does) whenever the socket closes. Records every frame and every (re)connection."""

    ws_url: str
    origin: str
    session_key: str
    interval: int = 0
    frames: list[Frame] = field(default_factory=list)
    connects: list[float] = field(default_factory=list)
    closes: list[tuple[float, str]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _stop: bool = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        from websockets.asyncio.client import connect

        while not self._stop:
            try:
                async with connect(
                    self.ws_url,
                    additional_headers={"Cookie": f"sessionid={self.session_key}"},
                    origin=self.origin,  # type: ignore[arg-type]
                    max_size=None,
                    compression=None,
                    open_timeout=5,
                ) as socket:
                    self.connects.append(time.monotonic())
                    await socket.send(
                        json.dumps({"type": "subscribe", "filters": {}, "interval": self.interval})
                    )
                    async for message in socket:
                        data = json.loads(message)
                        self.frames.append(
                            Frame(
                                time.monotonic(),
                                data.get("type", ""),
                                data.get("vehicles", []),
                                data.get("state", ""),
                            )
                        )
                    self.closes.append((time.monotonic(), f"closed {socket.close_code}"))
            except Exception as exc:  # refused, closed by the server, ...: retry like the page
                self.closes.append((time.monotonic(), repr(exc)[:200]))
            if not self._stop:
                await asyncio.sleep(0.3)

    def updates_with_fix_after(self, wall_ms: int, since: float = 0.0) -> list[Frame]:
        """Update frames received after `since` that carry a fix timestamped after `wall_ms`."""
        found = []
        for frame in self.frames:
            if frame.kind != "update" or frame.received < since:
                continue
            for vehicle in frame.vehicles:
                fix_time = vehicle.get("fix_time")
                if fix_time and stamp_ms(dt.datetime.fromisoformat(fix_time)) > wall_ms:
                    found.append(frame)
                    break
        return found

    async def wait_update_after(self, wall_ms: int, since: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.updates_with_fix_after(wall_ms, since):
                return True
            await asyncio.sleep(0.1)
        return False

    async def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
