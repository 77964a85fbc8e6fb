"""What every rule kind declares: its typed parameters (a frozen dataclass with defaults and
bounds), which subject it watches, and how it is evaluated (streamed over fixes, swept by beat,
or on a delivery event).

Parameters are stored as JSON on the rule (`AlertRule.params`); `params_parse` turns that JSON
into the kind's dataclass, filling defaults and refusing unknown keys, wrong types and values
out of bounds with a Django `ValidationError` keyed by parameter name, so the admin form can
show each error beside its field."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from django.core.exceptions import ValidationError

P = TypeVar("P")


class Mode(StrEnum):
    STREAM = "stream"  # evaluated over each vehicle's fixes, in fix order
    SWEEP = "sweep"  # evaluated from Celery beat on what the database says now
    EVENT = "event"  # evaluated when a delivery event arrives (and re-checked by the sweep)


def bounded(
    default: Any, *, low: float | None = None, high: float | None = None, help: str = ""
) -> Any:
    """A parameter with a default, inclusive bounds and a help text for the admin."""
    return dataclasses.field(default=default, metadata={"low": low, "high": high, "help": help})


def listed(help: str = "") -> Any:
    return dataclasses.field(default_factory=list, metadata={"help": help})


def mapped(help: str = "") -> Any:
    return dataclasses.field(default_factory=dict, metadata={"help": help})


@dataclass(frozen=True)
class KindSpec:
    kind: str
    label: str
    group: str  # telematics / deliveries / joined
    mode: Mode
    subject_type: str  # a SubjectType value
    params_type: type
    description: str = ""

    def params_default(self) -> Any:
        return self.params_type()


def _coerce(name: str, hint: Any, value: Any, meta: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValidationError({name: "Must be true or false."})
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError({name: "Must be a number."})
        if hint is int and not float(value).is_integer():
            raise ValidationError({name: "Must be a whole number."})
        number = hint(value)
        low, high = meta.get("low"), meta.get("high")
        if low is not None and number < low:
            raise ValidationError({name: f"Must be at least {low:g}."})
        if high is not None and number > high:
            raise ValidationError({name: f"Must be at most {high:g}."})
        return number
    if hint is str:
        if not isinstance(value, str):
            raise ValidationError({name: "Must be text."})
        return value
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise ValidationError({name: "Must be a list."})
        return [_coerce(name, item, v, {}) for v in value]
    if origin is dict:
        _, item = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ValidationError({name: "Must be an object."})
        out = {}
        for key, v in value.items():
            try:
                int(key)
            except (TypeError, ValueError):
                raise ValidationError({name: f"Key {key!r} must be an id."}) from None
            out[str(key)] = _coerce(name, item, v, {"low": 1, "high": 300})
        return out
    raise TypeError(f"unsupported parameter type {hint!r}")  # a programming error, not input


def params_parse(params_type: type[P], raw: Mapping[str, Any] | None) -> P:
    """The kind's parameters from stored JSON: defaults for what is missing, a ValidationError
    for unknown keys and bad values."""
    raw = dict(raw or {})
    hints = typing.get_type_hints(params_type)
    fields = {f.name: f for f in dataclasses.fields(params_type)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValidationError({key: "Unknown parameter for this kind." for key in unknown})
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, field in fields.items():
        if name not in raw:
            continue
        try:
            values[name] = _coerce(name, hints[name], raw[name], field.metadata)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return params_type(**values)


def params_json(params: Any) -> dict[str, Any]:
    """Every parameter, defaults included (what the admin shows and the rule stores)."""
    return dataclasses.asdict(params)
