"""django-filter pieces that refuse what they cannot read, for the FilterSets the console and
the API share: `needs_coordinates=maybe` and `hub=1.5` are 400s naming the parameter, not
ignored or rounded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

from .errors import InvalidQuery

TRUE_WORDS = {"true": True, "1": True, "false": False, "0": False}


class StrictBooleanField(forms.Field):
    """`true`/`false` (or 1/0); anything else is an error, absent is None."""

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        try:
            return TRUE_WORDS[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError("Must be true or false.", code="invalid") from None


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class StrictIntegerField(forms.IntegerField):
    """A whole number (an id: 1 to 2^63-1): "1.5" is refused rather than read as 1."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> int | None:
        if isinstance(value, str) and value.strip() and not value.strip().lstrip("-").isdigit():
            raise forms.ValidationError("Must be a whole number.", code="invalid")
        result: int | None = super().to_python(value)
        return result


class StrictIntegerFilter(django_filters.NumberFilter):
    field_class = StrictIntegerField


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, turned into UTC: PostgreSQL refuses offsets beyond ±15:59 that
    Python accepts (up to ±23:59), so the offset must not reach the query."""

    def to_python(self, value: object) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise forms.ValidationError("Date and time out of range.") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class AwareIsoDateTimeField(UtcIsoDateTimeField):
    """For integrators: a date-time without its time zone is ambiguous, so it is refused."""

    def to_python(self, value: object) -> dt.datetime | None:
        if isinstance(value, str) and value.strip():
            try:
                naive = dt.datetime.fromisoformat(value.strip()).tzinfo is None
            except ValueError:
                naive = False  # the parent says what is wrong with it
            if naive:
                raise forms.ValidationError("Give a time zone (e.g. ...+01:00 or ...Z).")
        return super().to_python(value)


class AwareIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = AwareIsoDateTimeField


def updated_since_filter(what: str, **kwargs: Any) -> AwareIsoDateTimeFilter:
    """`updated_since`: the rows whose `updated_at` is at or after an aware time."""
    kwargs.setdefault("field_name", "updated_at")
    return AwareIsoDateTimeFilter(
        lookup_expr="gte",
        help_text=f"{what} changed at or after this time (ISO 8601 with a time zone).",
        **kwargs,
    )


def updated_since_filterset(model: type[Any], what: str) -> type[django_filters.FilterSet]:
    """The FilterSet of a list whose one filter is `updated_since` (named `<Model>FilterSet`)."""
    meta = type("Meta", (), {"model": model, "fields": []})
    attributes = {"Meta": meta, "updated_since": updated_since_filter(what)}
    return type(f"{model.__name__}FilterSet", (django_filters.FilterSet,), attributes)


class StrictFilterBackend(DjangoFilterBackend):
    """A FilterSet's errors are query-parameter problems (each error names its parameter)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise InvalidQuery(
                {name: [str(m) for m in messages] for name, messages in filterset.errors.items()}
            )
        return filterset.qs
