"""The live-map contract in one place (docs/live-map.md): the vehicle record `V`, the
channel-layer message ingest publishes, and the websocket frames a screen receives.

Everything that builds or reads these shapes imports them from here: the selectors (snapshot
records from the models), the ingest writer (records from a committed fix), the hub and the
consumer (frames)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

# `V`: every key a screen may rely on, in the order the snapshot sends them.
DESCRIPTIVE_FIELDS = ("plate", "name", "hub_id", "hub", "driver", "device", "tags")
# What a fix changes; an update carries only these while the descriptive fields are unchanged.
MOVING_FIELDS = ("id", "lat", "lon", "speed_kmh", "heading", "status", "fix_time", "battery_pct")
VEHICLE_FIELDS = ("id", *DESCRIPTIVE_FIELDS, *MOVING_FIELDS[1:])

# Channel-layer message type of committed vehicle states (ingest, offline marking -> hub).
POSITIONS_UPDATE = "positions.update"

# Websocket frame types (server to client).
FRAME_SNAPSHOT = "snapshot"
FRAME_SNAPSHOT_MORE = "snapshot_more"
FRAME_UPDATE = "update"
FRAME_FEED = "feed"
FRAME_ERROR = "error"
# `feed` frame states: the live feed (Redis) is away, the screen's data may be old; or back.
FEED_PAUSED = "paused"
FEED_LIVE = "live"

# Daphne refuses websocket messages over 1 MiB; ~300 bytes a vehicle keeps a frame well under.
VEHICLES_PER_FRAME = 1000


def live_group(organization_id: int) -> str:
    """The channel-layer group that carries an organization's vehicle updates."""
    return f"live.org.{organization_id}"


def positions_update_message(vehicles: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": POSITIONS_UPDATE, "vehicles": vehicles}


def vehicle_descriptive(
    *,
    plate: str | None,
    name: str | None,
    hub_id: int | None,
    hub: str | None,
    driver: str | None,
    device: str | None,
    tags: list[str] | None,
) -> dict[str, Any]:
    """The fields that describe a vehicle (not changed by a fix)."""
    return {
        "plate": plate,
        "name": name,
        "hub_id": hub_id,
        "hub": hub,
        "driver": driver,
        "device": device,
        "tags": list(tags or []),
    }


def vehicle_live(
    *,
    vehicle_id: int,
    descriptive: dict[str, Any],
    lat: float | None,
    lon: float | None,
    speed_kmh: float | None,
    heading: float | None,
    status: str,
    fix_time: dt.datetime | None,
    battery_pct: float | None,
) -> dict[str, Any]:
    """One `V`: a vehicle's description and its last committed fix (None: never reported)."""
    return {
        "id": vehicle_id,
        **{key: descriptive.get(key) for key in DESCRIPTIVE_FIELDS},
        "lat": lat,
        "lon": lon,
        "speed_kmh": speed_kmh,
        "heading": heading,
        "status": status,
        "fix_time": fix_time.isoformat() if fix_time is not None else None,
        "battery_pct": battery_pct,
    }


def vehicle_descriptive_key(vehicle: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(vehicle.get(key) for key in DESCRIPTIVE_FIELDS)


def vehicle_moving(vehicle: dict[str, Any]) -> dict[str, Any]:
    """The compact form of an update (docs/live-map.md): the screen keeps the rest."""
    return {key: vehicle.get(key) for key in MOVING_FIELDS}


def vehicle_fix_time(vehicle: dict[str, Any]) -> dt.datetime | None:
    value = vehicle.get("fix_time")
    return dt.datetime.fromisoformat(value) if value else None


def frames(kind: str, encoded: list[str], *, removed: list[int], now: dt.datetime) -> list[str]:
    """JSON frames of at most VEHICLES_PER_FRAME vehicles, built from pre-serialized vehicles.
    A snapshot's first part is "snapshot" (replace everything), the rest "snapshot_more"."""
    server_time = json.dumps(now.isoformat())
    parts = [
        encoded[i : i + VEHICLES_PER_FRAME] for i in range(0, len(encoded), VEHICLES_PER_FRAME)
    ]
    result = []
    for index, part in enumerate(parts or [[]]):
        frame_type = FRAME_SNAPSHOT_MORE if kind == FRAME_SNAPSHOT and index > 0 else kind
        tail = f',"removed":{json.dumps(removed)}' if kind == FRAME_UPDATE and index == 0 else ""
        if kind == FRAME_UPDATE and index > 0:
            tail = ',"removed":[]'
        result.append(
            f'{{"type":"{frame_type}","vehicles":[{",".join(part)}]{tail},'
            f'"server_time":{server_time}}}'
        )
    return result


def feed_frame(state: str, *, now: dt.datetime) -> dict[str, Any]:
    """Tells the screen whether its data is live (`FEED_LIVE`) or may be old (`FEED_PAUSED`)."""
    return {"type": FRAME_FEED, "state": state, "server_time": now.isoformat()}


def error_frame(message: str, error: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": FRAME_ERROR}
    if error is not None:
        frame["error"] = error
    frame["message"] = message
    return frame
