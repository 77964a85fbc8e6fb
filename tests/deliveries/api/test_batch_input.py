"""The batch's fast item reading (deliveries/api/batch_input.py) against the serializer it
stands in for: whatever it accepts, the serializer accepts with the same values, and what it
leaves alone (None) is judged, and worded, by the serializer."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from deliveries.api.batch_input import batch_items_plain, order_item_fast
from deliveries.api.serializers import OrderInputSerializer

PLAIN = {
    "reference": "R-1",
    "customer_name": "Ann",
    "address": "1 Main Street",
    "hub": 7,
    "latitude": 52.3,
    "longitude": 4.8,
    "window_start": "2030-05-01T10:00:00+02:00",
    "window_end": "2030-05-01T12:00:00+02:00",
}

texts = st.one_of(
    st.text(max_size=70), st.just("  padded  "), st.just("a\x00b"), st.just("\ud800"), st.just("")
)
numbers = st.one_of(
    st.integers(-300, 300_000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.just("5"),
    st.none(),
)
datetimes = st.one_of(
    st.just("2030-05-01T10:00:00+02:00"),
    st.just("2030-05-01T10:00:00Z"),
    st.just("2030-05-01T10:00:00"),  # naive
    st.just(" 2030-05-01T10:00:00Z"),
    st.just("2030-05-01T11:00:00.5+00:00"),
    st.just("0001-01-01T00:00:00+01:00"),  # overflows to UTC
    st.just("not a time"),
    st.none(),
)
emails = st.one_of(st.just("ann@example.com"), st.just("not-an-email"), st.just(""), st.none())
FIELD_VALUES: dict[str, Any] = {
    "reference": texts,
    "customer_name": texts,
    "address": texts,
    "phone": texts,
    "notes": texts,
    "hub": numbers,
    "latitude": numbers,
    "longitude": numbers,
    "window_start": datetimes,
    "window_end": datetimes,
    "service_minutes": numbers,
    "priority": st.one_of(st.sampled_from([0, 1, 2, 3, 1.0, "1", True]), numbers),
    "weight_kg": numbers,
    "volume_l": numbers,
    "email": emails,
}
changes = st.dictionaries(
    st.sampled_from([*FIELD_VALUES, "unknown"]),
    st.none(),
    max_size=4,
).flatmap(
    lambda names: st.fixed_dictionaries(
        {name: FIELD_VALUES.get(name, st.just("x")) for name in names}
    )
)
removals = st.sets(st.sampled_from(sorted(PLAIN)), max_size=2)


def serializer_reading(item: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return dict(OrderInputSerializer().run_validation(item))
    except ValidationError:
        return None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes, removals)
def test_the_fast_reading_agrees_with_the_serializer(
    change: dict[str, Any], removed: set[str]
) -> None:
    item = {name: value for name, value in {**PLAIN, **change}.items() if name not in removed}
    fast = order_item_fast(item)
    if fast is not None:
        assert fast == serializer_reading(item)


def test_a_plain_item_is_read_fast_and_a_doubtful_one_is_not() -> None:
    assert order_item_fast(PLAIN) == serializer_reading(PLAIN)
    assert order_item_fast({**PLAIN, "hub": "7"}) is None  # the serializer reads it (as 7)
    assert order_item_fast({**PLAIN, "window_end": PLAIN["window_start"]}) is None
    assert order_item_fast({**PLAIN, "status": "delivered"}) is None
    assert order_item_fast("not an object") is None


def test_only_a_plain_body_skips_the_body_serializer() -> None:
    assert batch_items_plain({"orders": [PLAIN]}) == [PLAIN]
    bodies: list[Any] = [
        {"orders": []},
        {"orders": [PLAIN, 1]},
        {"orders": [PLAIN], "x": 1},
        [PLAIN],
    ]
    for body in bodies:
        assert batch_items_plain(body) is None
    assert batch_items_plain({"orders": [PLAIN] * 1001}) is None
