"""Pure decisions of the notification path: no database, plain values in and out."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from tenancy.models import Role

# Escalation notifies the next role up (docs/alerts.md).
ROLE_LADDER = (Role.DISPATCHER, Role.MANAGER, Role.ADMIN)


def escalation_roles(roles: list[str] | tuple[str, ...]) -> list[str]:
    """The roles one step above `roles` on the ladder (support counts as dispatcher level);
    the admins when nothing is above (or no role was configured)."""
    steps: list[str] = []
    for role in roles:
        level = ROLE_LADDER.index(role) if role in ROLE_LADDER else 0
        steps.append(str(ROLE_LADDER[min(level + 1, len(ROLE_LADDER) - 1)]))
    ordered = list(dict.fromkeys(steps))
    return ordered or [str(Role.ADMIN)]


def _at(day: dt.date, moment: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, moment).replace(tzinfo=zone)


def quiet_hours_end(
    *, now: dt.datetime, start: dt.time | None, end: dt.time | None, time_zone: str
) -> dt.datetime | None:
    """When the quiet hours that `now` falls in end (aware), or None when `now` is not in
    quiet hours. Hours are wall-clock times in the organization's zone; start > end spans
    midnight (22:00-07:00)."""
    if start is None or end is None or start == end:
        return None
    zone = zoneinfo.ZoneInfo(time_zone)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    today = local.date()
    if start < end:
        return _at(today, end, zone) if start <= clock < end else None
    if clock >= start:
        return _at(today + dt.timedelta(days=1), end, zone)
    if clock < end:
        return _at(today, end, zone)
    return None


def digest_day_due(*, now: dt.datetime, digest_hour: int, time_zone: str) -> dt.date | None:
    """The local day whose digest is due at `now` (its hour has come), else None."""
    local = now.astimezone(zoneinfo.ZoneInfo(time_zone))
    return local.date() if local.hour >= digest_hour else None


def storm_window(opened_at: dt.datetime, *, seconds: int) -> tuple[dt.datetime, dt.datetime]:
    """The fixed window (start, end) an opening falls in: grouping is deterministic, so a
    redelivered event lands in the same grouped notification."""
    epoch = int(opened_at.timestamp())
    start = epoch - epoch % seconds
    return (
        dt.datetime.fromtimestamp(start, tz=dt.UTC),
        dt.datetime.fromtimestamp(start + seconds, tz=dt.UTC),
    )
