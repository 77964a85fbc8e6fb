"""Ingest under faults: PostgreSQL killed, Redis killed, while trackers keep sending.

These tests start their own embedded PostgreSQL and Redis (temporary folder, own socket and
port), migrate and seed them, and run a real Daphne process pointed at them; they never touch
the machine's shared services. The promises checked (docs/live-map.md, DESIGN "Data flow"):

* a fix answered 200 is stored exactly once; while the database is down ingest answers 503
  (never 500, never a 200 for a fix that was not stored), and recovers without a restart;
* Redis is only the live feed: with Redis down fixes are still answered 200 and stored, and
  the live push resumes once Redis is back.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.support.stack import Stack
from tests.support.trackers import Screen, Trackers, stamp_ms

pytestmark = [pytest.mark.fault]

DEVICES = 4


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """PostgreSQL + Redis of our own, migrated and seeded once for the module."""
    stack = Stack.create(devices=DEVICES)
    try:
        stack.start_postgres()
        stack.start_redis()
        stack.migrate_and_seed()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def running(stack: Stack) -> Iterator[Stack]:
    """Both services up (a failed test may have left one down) and a fresh Daphne."""
    if not stack.postgres_running():
        stack.start_postgres()
    stack.start_redis()
    stack.sql("TRUNCATE fleet_position, fleet_vehiclestate, fleet_rejectedfix")
    stack.start_daphne()
    try:
        yield stack
    finally:
        stack.stop_daphne()


def stored_fixes(stack: Stack) -> Counter[tuple[str, int]]:
    """(device identifier, fix time in ms) -> how many rows fleet_position holds for it."""
    rows = stack.sql(
        "SELECT d.identifier, p.fix_time FROM fleet_position p "
        "JOIN fleet_device d ON d.id = p.device_id"
    )
    return Counter((identifier, stamp_ms(fix_time)) for identifier, fix_time in rows)


def assert_every_ack_stored_once(stack: Stack, trackers: Trackers) -> None:
    stored = stored_fixes(stack)
    missing = trackers.acked - set(stored)
    assert not missing, f"{len(missing)} fixes answered 200 are not stored: {sorted(missing)[:5]}"
    twice = {fix: n for fix, n in stored.items() if n != 1}
    assert not twice, f"fixes stored more than once: {twice}"
    unknown = set(stored) - trackers.created
    assert not unknown, f"rows that no tracker sent: {sorted(unknown)[:5]}"
    # Every fix was resent until it was acknowledged, so every fix sent is stored.
    assert trackers.acked == trackers.created
    assert set(stored) == trackers.created
    # Vehicle state follows the newest acknowledged fix of each device.
    newest: dict[str, int] = {}
    for device, stamp in trackers.acked:
        newest[device] = max(stamp, newest.get(device, 0))
    states = stack.sql(
        "SELECT d.identifier, s.fix_time FROM fleet_vehiclestate s "
        "JOIN fleet_device d ON d.vehicle_id = s.vehicle_id"
    )
    assert {identifier: stamp_ms(fix_time) for identifier, fix_time in states} == newest


def daphne_alive(stack: Stack, pid: int) -> bool:
    return stack.daphne is not None and stack.daphne.pid == pid and stack.daphne.poll() is None


async def test_postgres_killed_during_ingest(running: Stack) -> None:
    stack = running
    daphne_pid = stack.daphne.pid if stack.daphne else 0
    trackers = Trackers(stack.base_url, [d["identifier"] for d in stack.seed["devices"]])
    trackers.start()
    try:
        assert await trackers.wait_acked_since(0, 40, timeout=20), trackers.statuses()

        await asyncio.to_thread(stack.kill_postgres)
        down_since = time.monotonic()
        assert not stack.postgres_running()
        await asyncio.sleep(4)
        up_from = time.monotonic()
        await asyncio.to_thread(stack.start_postgres)
        restarted = time.monotonic()

        # 200s resume by themselves: same Daphne process, no restart.
        assert await trackers.wait_acked_since(restarted, 20, timeout=30), (
            f"no 200s after the restart: {trackers.statuses(restarted)}\n"
            + stack.daphne_output()[-3000:]
        )
    finally:
        await trackers.finish(timeout=30)

    assert daphne_alive(stack, daphne_pid), "Daphne was restarted or died"
    while_down = trackers.statuses(down_since, up_from)
    first_ok = min(a.ended for a in trackers.attempts if a.status == 200 and a.started >= restarted)
    print(  # shown with -s: what the fault looked like from the trackers
        f"postgres fault: {len(trackers.created)} fixes, answers {trackers.statuses()}, "
        f"while down {while_down}, first 200 {first_ok - restarted:.2f} s after the restart"
    )
    assert while_down.get(503, 0) >= 1, f"expected 503s while PostgreSQL was down: {while_down}"
    assert set(while_down) == {503}, f"while PostgreSQL was down: {while_down}"
    everything = trackers.statuses()
    assert set(everything) <= {200, 503}, f"unexpected answers: {everything}"

    assert_every_ack_stored_once(stack, trackers)
    # A fix whose commit raced the kill may be resent and found a duplicate; nothing else.
    reasons = {row[0] for row in stack.sql("SELECT DISTINCT reason FROM fleet_rejectedfix")}
    assert reasons <= {"duplicate"}, reasons


async def test_redis_killed_during_ingest(running: Stack) -> None:
    stack = running
    daphne_pid = stack.daphne.pid if stack.daphne else 0
    trackers = Trackers(stack.base_url, [d["identifier"] for d in stack.seed["devices"]])
    ws_url = stack.base_url.replace("http://", "ws://") + "/ws/live/"
    screen = Screen(ws_url, origin=stack.base_url, session_key=stack.seed["session_key"])
    screen.start()
    trackers.start()
    try:
        started_ms = int(time.time() * 1000)
        assert await screen.wait_update_after(started_ms, 0, timeout=20), (
            f"no live update before the fault: {screen.closes}\n" + stack.daphne_output()[-3000:]
        )

        await asyncio.to_thread(stack.kill_redis)
        down_since = time.monotonic()
        await asyncio.sleep(4)
        up_from = time.monotonic()
        while_down = trackers.statuses(down_since, up_from)
        await asyncio.to_thread(stack.start_redis)
        restarted = time.monotonic()
        restarted_ms = int(time.time() * 1000)

        assert await screen.wait_update_after(restarted_ms, restarted, timeout=30), (
            f"the live push did not resume after Redis came back; socket events "
            f"{screen.closes[-5:]}\n" + stack.daphne_output()[-3000:]
        )
    finally:
        await trackers.finish(timeout=30)
        await screen.stop()

    assert daphne_alive(stack, daphne_pid), "Daphne was restarted or died"
    resumed = screen.updates_with_fix_after(restarted_ms, restarted)[0].received - restarted
    print(  # shown with -s
        f"redis fault: {len(trackers.created)} fixes, answers {trackers.statuses()}, while down "
        f"{while_down}, socket (re)connects {len(screen.connects)}, closes {screen.closes}, "
        f"live push resumed {resumed:.2f} s after the restart"
    )
    # Redis down: fixes are still acknowledged, promptly.
    assert while_down.get(200, 0) >= 20, f"while Redis was down: {while_down}"
    assert set(while_down) == {200}, f"while Redis was down: {while_down}"
    slow = [a for a in trackers.attempts if a.ended - a.started > 2.5]
    assert not slow, f"{len(slow)} fixes took over 2.5 s to acknowledge, e.g. {slow[:3]}"
    assert set(trackers.statuses()) == {200}, trackers.statuses()
    assert_every_ack_stored_once(stack, trackers)
