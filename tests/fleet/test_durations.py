"""fleet/templatetags/durations.py: refusal ages as people read them."""

from __future__ import annotations

import pytest

from fleet.templatetags.durations import duration_text, seconds_as_durations


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (3 * 60 + 20, "3 min"),
        (3600, "1 h"),
        (2 * 3600 + 5 * 60, "2 h 5 min"),
        (47 * 3600 + 59 * 60, "47 h 59 min"),
        (2 * 86400, "2 days"),
        (169306452, "1,959 days"),
        (-3, "0 s"),
    ],
)
def test_duration_text(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text


def test_every_seconds_count_in_a_detail_becomes_a_duration() -> None:
    assert seconds_as_durations("169306452 s old") == "1,959 days old"
    assert seconds_as_durations("125 s ahead of server time") == "2 min ahead of server time"
    assert seconds_as_durations("accuracy 80 m > 50 m") == "accuracy 80 m > 50 m"
