"""Send a simulated fleet's fixes to the OsmAnd ingest endpoint, one HTTP request per fix.

* The simulated clock runs `speedup` times faster than the wall clock from `start` on.
* Fixes go to a fixed set of workers (`concurrency`), each owning a share of the devices, so a
  device's fixes are sent one after the other in the order the tracker produced them (the only
  out-of-order fixes are the injected ones), and at most `concurrency` requests are in flight.
* 200-299 counts as ok; 429/502/503/504, timeouts and connection errors are retried with
  exponential backoff (Retry-After honoured) until the server answers, however long it is down;
  other 5xx are retried a few times, then dropped; other 4xx count as rejected, not retried.
* A bounded queue per worker gives back-pressure: while the server is down the simulation simply
  waits, and catches up afterwards.
* `request_stop()` (SIGINT/SIGTERM in the command) stops producing, lets the queued fixes go out
  for up to `drain_timeout` seconds, then gives up; a second call gives up at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from .driver import Fix, Fleet

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_SERVER_ERROR_RETRIES = 5
OSMAND_PATH = "/ingest/osmand/"


class SimClock:
    """Simulated unix time: `start` at creation, then `speedup` x faster than `monotonic`."""

    def __init__(
        self,
        start: float,
        speedup: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        self.start = start
        self.speedup = speedup
        self._monotonic = monotonic
        self._origin = monotonic()

    def restart(self) -> None:
        """Make the simulated time `start` again, now."""
        self._origin = self._monotonic()

    def wall_elapsed(self) -> float:
        return self._monotonic() - self._origin

    def now(self) -> float:
        return self.start + self.wall_elapsed() * self.speedup


@dataclass
class SendStats:
    sent: int = 0  # fixes handed to the server (first attempt)
    ok: int = 0
    rejected: int = 0  # 4xx: not retried
    errors: int = 0  # failed attempts: connection errors, timeouts, 5xx
    retries: int = 0
    dropped: int = 0  # given up: repeated non-retryable 5xx, or stopped before delivery


async def _wait(event: asyncio.Event, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `event`; True if it is set. (Not asyncio.wait_for: on
    Python 3.11 it can swallow a cancellation that arrives as the event is set.)"""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return event.is_set()


class FleetSender:
    def __init__(
        self,
        url: str,
        fleet: Fleet,
        clock: SimClock,
        *,
        token: str | None = None,
        concurrency: int = 32,
        method: str = "get",
        timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 15.0,
        summary_every: float = 30.0,
        tick: float | None = None,
        queue_size: int = 1000,
        log: Callable[[str], None] = print,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if method not in ("get", "post"):
            raise ValueError("method must be 'get' or 'post'")
        self.endpoint = url.rstrip("/") + OSMAND_PATH
        self.fleet = fleet
        self.clock = clock
        self.token = token or None
        self.concurrency = max(1, int(concurrency))
        self.method = method
        self.timeout = timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.summary_every = summary_every
        interval = min((v.interval for v in fleet.vehicles), default=5.0)
        # Produce a few times per simulated fix interval, at most every 250 ms of wall time.
        self.tick = tick if tick is not None else max(0.01, min(0.25, interval / clock.speedup / 4))
        self.queue_size = queue_size
        self.log = log
        self.transport = transport
        self.stats = SendStats()
        self._workers_of = {v.device_id: i % self.concurrency for i, v in enumerate(fleet.vehicles)}
        self._stop = asyncio.Event()
        self._abort = asyncio.Event()
        self._rng = random.Random()
        self._queues: list[asyncio.Queue[Fix]] = []
        self._client: httpx.AsyncClient | None = None
        self._last_error = ""
        self._down_since: float | None = None
        self._rejections_logged = 0

    # -- control ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """First call: finish gracefully. Second call: give up on what is still queued."""
        if self._stop.is_set():
            self._abort.set()
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- main ---------------------------------------------------------------------------------

    async def run(self, duration: float | None = None, drain_timeout: float = 10.0) -> SendStats:
        """Simulate and send for `duration` wall-clock seconds (None: until request_stop)."""
        # Events made in __init__ may belong to no loop yet; (re)create them on this one.
        stop_requested, abort_requested = self._stop.is_set(), self._abort.is_set()
        self._stop, self._abort = asyncio.Event(), asyncio.Event()
        if stop_requested:
            self._stop.set()
        if abort_requested:
            self._abort.set()
        self._queues = [asyncio.Queue(self.queue_size) for _ in range(self.concurrency)]
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        async with httpx.AsyncClient(
            timeout=self.timeout,
            limits=limits,
            transport=self.transport,
            headers={"User-Agent": "doorstep-simulate-fleet"},
        ) as client:
            self._client = client
            # Duration and simulated time both count from here (a client takes a moment to set
            # up): a run of `duration` s simulates exactly duration x speedup s.
            self.clock.restart()
            started = time.monotonic()
            workers = [asyncio.create_task(self._worker(q)) for q in self._queues]
            reporter = asyncio.create_task(self._report())
            try:
                await self._produce(
                    None if duration is None else started + duration,
                    None if duration is None else self.clock.start + duration * self.clock.speedup,
                )
                drained = asyncio.create_task(self._drain())
                finished = asyncio.create_task(self._wait_abort())
                done, _ = await asyncio.wait(
                    {drained, finished}, timeout=drain_timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if drained not in done:
                    self._abort.set()
                    drained.cancel()
                finished.cancel()
            finally:
                self._abort.set()
                for task in [*workers, reporter]:
                    task.cancel()
                await asyncio.gather(*workers, reporter, return_exceptions=True)
                # Whatever was neither acknowledged nor rejected (given up, cut off mid-request,
                # still queued) is dropped.
                leftover = 0
                for q in self._queues:
                    while not q.empty():
                        q.get_nowait()
                        leftover += 1
                s = self.stats
                s.dropped = s.sent - s.ok - s.rejected + leftover
                self._client = None
        self.log(self.summary_line(final=True))
        return self.stats

    async def _drain(self) -> None:
        await asyncio.gather(*(q.join() for q in self._queues))

    async def _wait_abort(self) -> None:
        await self._abort.wait()

    async def _produce(self, deadline: float | None, sim_end: float | None) -> None:
        while True:
            now = time.monotonic()
            sim_now = self.clock.now() if sim_end is None else min(self.clock.now(), sim_end)
            for fix in self.fleet.advance(sim_now):
                queue = self._queues[self._workers_of.get(fix.device_id, 0)]
                while True:
                    try:
                        queue.put_nowait(fix)
                        break
                    except asyncio.QueueFull:
                        # Back-pressure (server slow or down): wait for room.
                        if self._stop.is_set():
                            return
                        await asyncio.sleep(0.05)
            if self._stop.is_set() or (deadline is not None and now >= deadline):
                return
            wait = self.tick if deadline is None else max(0.0, min(self.tick, deadline - now))
            await _wait(self._stop, wait)

    async def _worker(self, queue: asyncio.Queue[Fix]) -> None:
        while True:
            fix = await queue.get()
            try:
                await self._deliver(fix)
            finally:
                queue.task_done()
            if self._abort.is_set():
                return

    async def _deliver(self, fix: Fix) -> None:
        assert self._client is not None
        params = fix.osmand_params(self.token)
        self.stats.sent += 1
        attempt = 0
        server_errors = 0
        while True:
            if self._abort.is_set():
                self.stats.dropped += 1
                return
            retry_after: float | None = None
            try:
                if self.method == "get":
                    response = await self._client.get(self.endpoint, params=params)
                else:
                    response = await self._client.post(self.endpoint, data=params)
            except httpx.HTTPError as exc:
                self.stats.errors += 1
                self._note_down(f"{type(exc).__name__}: {exc}".rstrip(": "))
            else:
                code = response.status_code
                if 200 <= code < 300:
                    self.stats.ok += 1
                    self._note_up()
                    return
                if code in RETRY_STATUSES:
                    self.stats.errors += 1
                    self._note_down(f"HTTP {code}")
                    retry_after = _retry_after(response)
                elif code >= 500:
                    self.stats.errors += 1
                    server_errors += 1
                    self._last_error = f"HTTP {code}"
                    if server_errors > MAX_SERVER_ERROR_RETRIES:
                        self.stats.dropped += 1
                        return
                else:
                    self.stats.rejected += 1
                    self._note_rejection(fix, response)
                    return
            delay = min(self.backoff_max, self.backoff_initial * 2**attempt)
            delay *= self._rng.uniform(0.8, 1.2)
            if retry_after is not None:
                delay = min(self.backoff_max, max(delay, retry_after))
            attempt += 1
            self.stats.retries += 1
            if await _wait(self._abort, delay):
                self.stats.dropped += 1
                return

    # -- reporting ----------------------------------------------------------------------------

    def _note_down(self, error: str) -> None:
        self._last_error = error
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.log(f"server not answering ({error}) at {self.endpoint}: retrying with backoff")

    def _note_up(self) -> None:
        if self._down_since is not None:
            self.log(f"server answering again after {time.monotonic() - self._down_since:.1f}s")
            self._down_since = None

    def _note_rejection(self, fix: Fix, response: httpx.Response) -> None:
        self._last_error = f"HTTP {response.status_code} for {fix.device_id}"
        if self._rejections_logged < 5:
            self._rejections_logged += 1
            body = response.text.strip().replace("\n", " ")[:120]
            self.log(f"rejected: HTTP {response.status_code} for {fix.device_id}: {body}")

    def summary_line(self, final: bool = False) -> str:
        s = self.stats
        sim_elapsed = timedelta(seconds=round(self.clock.now() - self.clock.start))
        sim_at = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%Y-%m-%d %H:%M:%S")
        queued = sum(q.qsize() for q in self._queues)
        line = (
            f"{'done' if final else 'running'}: {len(self.fleet)} vehicles, sim {sim_at}Z "
            f"(+{sim_elapsed}) | sent {s.sent} ok {s.ok} rejected {s.rejected} "
            f"errors {s.errors} retries {s.retries} dropped {s.dropped} | queued {queued}"
        )
        if self._last_error:
            line += f" | last error: {self._last_error}"
        return line

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(self.summary_every)
            self.log(self.summary_line())


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
