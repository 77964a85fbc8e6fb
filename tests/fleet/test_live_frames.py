"""Live frames are built from pre-serialized vehicles and split under Daphne's 1 MiB limit."""

from __future__ import annotations

import datetime as dt
import json

from fleet.live.schema import VEHICLES_PER_FRAME, frames


def vehicle(i: int) -> dict[str, object]:
    return {
        "id": i,
        "plate": f"P{i:05d}",
        "hub_id": 1,
        "lat": 52.0,
        "lon": 4.0,
        "status": "moving",
        "fix_time": "2026-11-25T12:00:00+00:00",
    }


def test_large_frames_are_split_under_the_message_limit() -> None:
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    encoded = [json.dumps(vehicle(i)) for i in range(2500)]
    snapshot = [json.loads(f) for f in frames("snapshot", encoded, removed=[], now=now)]
    assert [f["type"] for f in snapshot] == ["snapshot", "snapshot_more", "snapshot_more"]
    assert sum(len(f["vehicles"]) for f in snapshot) == 2500
    assert max(len(f) for f in frames("snapshot", encoded, removed=[], now=now)) < 1024 * 1024
    update = [json.loads(f) for f in frames("update", encoded[:1500], removed=[7], now=now)]
    assert [(f["type"], f["removed"], len(f["vehicles"])) for f in update] == [
        ("update", [7], VEHICLES_PER_FRAME),
        ("update", [], 500),
    ]
    (empty,) = [json.loads(f) for f in frames("update", [], removed=[], now=now)]
    assert empty["vehicles"] == [] and empty["server_time"] == now.isoformat()
