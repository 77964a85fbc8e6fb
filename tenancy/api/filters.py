"""django-filter pieces that refuse what they cannot read, for the FilterSets the console and
the API share: `needs_coordinates=maybe` and `hub=1.5` are 400s naming the parameter, not
ignored or rounded."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
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
