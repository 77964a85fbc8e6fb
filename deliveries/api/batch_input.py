"""A fast reading of a batch item that is plainly valid, with the result OrderInputSerializer
would give; anything less plain (a string number, a bad field, a cross-field rule broken) is
left to the serializer, so an invalid item's errors are always a single create's.

Why: DRF's field machinery costs about a millisecond per item, which was a third of a 1,000-order
batch. The fast reading accepts a subset of what the serializer accepts and must give the same
values for it; tests/deliveries/api/test_batch_input.py checks both with generated items.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from rest_framework import serializers

from ..models import Order
from ..services.order_batch import BATCH_MAX_ITEMS
from .serializers import BIG_ID, OrderInputSerializer

_SURROGATES = re.compile("[\ud800-\udfff]")
_FIELDS = OrderInputSerializer().fields


def _text_limits(name: str) -> tuple[int, int]:
    text = _FIELDS[name]
    assert isinstance(text, serializers.CharField) and text.max_length is not None
    return text.max_length, text.min_length or 0


_TEXTS = {
    name: _text_limits(name) for name in ("reference", "customer_name", "address", "phone", "notes")
}
_REQUIRED = frozenset(name for name, field in _FIELDS.items() if field.required)
_KNOWN = frozenset(_FIELDS)
_PRIORITIES = frozenset(Order.Priority.values)
_EMAIL_MAX = _text_limits("email")[0]


class NotPlain(Exception):  # control flow: let the serializer judge (and word) the item
    pass


def _text(value: Any, max_length: int, min_length: int) -> str:
    if not isinstance(value, str):
        raise NotPlain
    value = value.strip()
    if not min_length <= len(value) <= max_length or "\x00" in value:
        raise NotPlain
    if not value.isascii() and _SURROGATES.search(value):
        raise NotPlain
    return value


def _number(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotPlain
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise NotPlain
    return number


def _integer(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise NotPlain
    return value


def _datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or value != value.strip():
        raise NotPlain
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise NotPlain from exc
    if parsed.tzinfo is None:
        raise NotPlain
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError as exc:
        raise NotPlain from exc


def _email(value: Any) -> str:
    if value is None:
        return ""
    email = _text(value, _EMAIL_MAX, 1)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise NotPlain from exc
    return email


def _optional_number(item: dict[str, Any], name: str, low: float, high: float) -> None:
    if name in item and item[name] is not None:
        item[name] = _number(item[name], low, high)


def batch_items_plain(data: Any) -> list[dict[str, Any]] | None:
    """The body's items when it is plainly `{"orders": [1 to 1,000 objects]}`, else None (the
    body serializer then words the refusal)."""
    if not isinstance(data, dict) or data.keys() != {"orders"}:
        return None
    items = data["orders"]
    if not isinstance(items, list) or not 1 <= len(items) <= BATCH_MAX_ITEMS:
        return None
    return items if all(isinstance(item, dict) for item in items) else None


def order_item_fast(item: Any) -> dict[str, Any] | None:
    """OrderInputSerializer's validated data for `item`, or None: judge it with the
    serializer."""
    if not isinstance(item, dict) or not _REQUIRED <= item.keys() <= _KNOWN:
        return None
    try:
        data: dict[str, Any] = {
            name: _text(item[name], *limits) for name, limits in _TEXTS.items() if name in item
        }
        data.setdefault("phone", "")
        data.setdefault("notes", "")
        data["hub"] = _integer(item["hub"], 1, BIG_ID)
        data["email"] = _email(item.get("email"))
        for name in ("latitude", "longitude", "window_start", "window_end"):
            if name in item:
                data[name] = item[name]
        _optional_number(data, "latitude", -90, 90)
        _optional_number(data, "longitude", -180, 180)
        for name in ("window_start", "window_end"):
            if name in data:
                data[name] = _datetime(data[name])
        data["service_minutes"] = _integer(item.get("service_minutes", 5), 0, 240)
        # An int only: the serializer's choice field reads 1.0 as "1.0", not a priority.
        data["priority"] = _integer(item.get("priority", 0), 0, max(_PRIORITIES))
        data["weight_kg"] = _number(item.get("weight_kg", 0), 0, 100_000)
        data["volume_l"] = _number(item.get("volume_l", 0), 0, 1_000_000)
    except NotPlain:
        return None
    return data if _cross_fields_hold(data) else None


def _cross_fields_hold(data: dict[str, Any]) -> bool:
    latitude, longitude = data.get("latitude"), data.get("longitude")
    if (latitude is None) != (longitude is None):
        return False
    if latitude is None and not settings.GEOCODER_URL:
        return False
    start, end = data.get("window_start"), data.get("window_end")
    return not (start and end and end <= start)
