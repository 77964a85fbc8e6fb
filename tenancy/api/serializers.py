"""Input strictness every API serializer shares: a field the client sent that the operation does
not take (unknown, or read-only such as `id` or `status`) is refused by name instead of
silently dropped, and a date-time without a time zone is refused instead of being read as UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

NAIVE_DATETIME = "Give a time zone (e.g. 2026-12-02T10:00:00+01:00 or ...Z)."


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time with its offset; a naive one is ambiguous and refused."""

    default_error_messages = {"naive": NAIVE_DATETIME}

    def to_internal_value(self, value: Any) -> dt.datetime:
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        elif isinstance(value, dt.datetime) and value.tzinfo is None:
            self.fail("naive")
        result: dt.datetime = super().to_internal_value(value)
        try:
            # PostgreSQL refuses offsets beyond +-15:59 that Python accepts: store UTC.
            return result.astimezone(dt.UTC)
        except OverflowError:
            self.fail("invalid", format="ISO 8601")
            raise  # unreachable: fail raises


class StrictInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Refuses body members the operation does not take, naming them (400)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                read_only = {name for name, field in self.fields.items() if field.read_only}
                raise serializers.ValidationError(
                    {
                        name: [
                            "Read-only: set by Doorstep, not by the client."
                            if name in read_only
                            else "Unknown field: this operation does not take it."
                        ]
                        for name in unknown
                    },
                    code="unknown_field",
                )
        return super().to_internal_value(data)


class WholePatchInputSerializer(StrictInputSerializer):
    """A PATCH body whose required members stay required (a plan change names the
    `plan_version` it is based on). drf-spectacular documents a PATCH body as DRF's partial
    serializer, with nothing required; the views validate these bodies whole, so the schema
    must say so too."""

    @property  # type: ignore[override]
    def partial(self) -> bool:
        return False

    @partial.setter
    def partial(self, value: bool) -> None:
        pass  # never partial: DRF's and drf-spectacular's requests are ignored


class EmptyInputSerializer(StrictInputSerializer):
    """The body of an action that takes nothing: `{}` (or no body); any member is refused."""


class StrictQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A query string's serializer: `?status=` is refused, not read as "not given" (which is
    what DRF does with blank form values)."""

    def to_internal_value(self, data: Any) -> Any:
        names = [str(name) for name in self.fields]
        blank = sorted(
            name for name in names if hasattr(data, "getlist") and "" in data.getlist(name)
        )
        if blank:
            raise serializers.ValidationError({name: ["Must not be blank."] for name in blank})
        return super().to_internal_value(data)


def shown_once_field(what: str) -> serializers.CharField:
    """A secret a create (or rotation) answers once: null when an Idempotency-Key replays the
    answer, because the receipt never keeps it (OrganizationApiView.shown_once)."""
    return serializers.CharField(
        allow_null=True,
        help_text=f"{what}, in this answer only (null when an Idempotency-Key replays it).",
    )
