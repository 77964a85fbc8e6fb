"""Durations as people read them: "3 min", "2 h 5 min", "1,959 days" (not "169306452 s")."""

from __future__ import annotations

import re

from django import template

register = template.Library()

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR
# The refusal details of fleet/ingest/filters.py count whole seconds: "169306452 s old".
_SECONDS_IN_TEXT = re.compile(r"\b(\d+) s\b")


def duration_text(seconds: float) -> str:
    """Seconds under a minute, minutes under an hour, hours and minutes under two days, then days."""
    total = max(0, round(seconds))
    if total < MINUTE:
        return f"{total} s"
    if total < HOUR:
        return f"{total // MINUTE} min"
    if total < 2 * DAY:
        hours, rest = divmod(total, HOUR)
        minutes = rest // MINUTE
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = total // DAY
    return f"{days:,} days"


@register.filter
def seconds_as_durations(text: str) -> str:
    """Every "<n> s" in a plain-text detail, as a duration. The result is still plain text
    (auto-escaped by the template like any other value)."""
    return _SECONDS_IN_TEXT.sub(lambda match: duration_text(int(match[1])), str(text))
