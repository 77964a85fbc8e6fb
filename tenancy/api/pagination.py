"""Pagination of every API list.

`KeysetPagination` (orders, events, positions: lists that grow while a client reads them) pages
by the position of the last row, not by a row count: a row inserted between two page reads
never makes another row appear twice or be skipped, and a page costs an index range scan
however deep the client is. The cursor is opaque to clients (base64 of the last row's sort
key); only `next` is offered, because integrators walk forward.

`StrictLimitOffsetPagination` is for short lists where a total count helps (alerts).

Both refuse a bad `limit` (not a whole number, below 1 or above the maximum) with a 400
problem naming the parameter, instead of silently using the default.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from django.db.models import Model, Q, QuerySet
from rest_framework.pagination import BasePagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from .errors import query_error

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


def strict_int(
    request: Request, name: str, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    """A whole-number query parameter within its bounds, or the default when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or len(raw.strip()) > 18:
        raise query_error(name, "Must be a whole number.")
    value = int(raw)
    if value < minimum:
        raise query_error(name, f"Must be at least {minimum}.")
    if maximum is not None and value > maximum:
        raise query_error(name, f"Must be at most {maximum}.")
    return value


def _limit_parameter(max_limit: int, default: int) -> dict[str, Any]:
    return {
        "name": "limit",
        "required": False,
        "in": "query",
        "description": f"Rows per page (default {default}, at most {max_limit}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": max_limit, "default": default},
    }


class KeysetPagination(BasePagination):
    """Forward-only pages in the order of `ordering` (model field names, "-" for descending;
    the last must be unique, e.g. the id)."""

    ordering: Sequence[str] = ("id",)
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT
    cursor_query_param = "cursor"

    def __init__(self, ordering: Sequence[str] | None = None) -> None:
        if ordering is not None:
            self.ordering = tuple(ordering)

    # --- the cursor -------------------------------------------------------------------

    @staticmethod
    def encode(values: Sequence[Any]) -> str:
        plain = [value.isoformat() if isinstance(value, dt.datetime) else value for value in values]
        raw = json.dumps(plain, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str, model: type[Model]) -> list[Any]:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            values = json.loads(raw)
            if not isinstance(values, list) or len(values) != len(self.ordering):
                raise ValueError("wrong shape")
            return [
                model._meta.get_field(name.lstrip("-")).to_python(value)  # type: ignore[union-attr]
                for name, value in zip(self.ordering, values, strict=True)
            ]
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
            raise query_error(
                self.cursor_query_param, "Not a cursor this API gave out; start without one."
            ) from exc
        except Exception as exc:  # a field refusing the value (django ValidationError)
            raise query_error(self.cursor_query_param, "Not a valid cursor.") from exc

    def _after(self, values: list[Any]) -> Q:
        # (a, b) > (x, y) as (a > x) OR (a = x AND b > y), honouring each field's direction.
        condition = Q()
        equal = Q()
        for name, value in zip(self.ordering, values, strict=True):
            field = name.lstrip("-")
            step = Q(**{f"{field}__lt" if name.startswith("-") else f"{field}__gt": value})
            condition |= equal & step
            equal &= Q(**{field: value})
        return condition

    # --- DRF's pagination interface ----------------------------------------------------

    def paginate_queryset(  # type: ignore[override]  # querysets only: it filters by key
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.limit = strict_int(
            request, "limit", default=self.default_limit, minimum=1, maximum=self.max_limit
        )
        cursor = request.query_params.get(self.cursor_query_param)
        queryset = queryset.order_by(*self.ordering)
        if cursor:
            queryset = queryset.filter(self._after(self.decode(cursor, queryset.model)))
        rows = list(queryset[: self.limit + 1])
        self.has_next = len(rows) > self.limit
        self.page = rows[: self.limit]
        return self.page

    def next_cursor(self) -> str | None:
        if not self.has_next or not self.page:
            return None
        last = self.page[-1]
        return self.encode([getattr(last, name.lstrip("-")) for name in self.ordering])

    def get_paginated_response(self, data: Any) -> Response:
        cursor = self.next_cursor()
        link = None
        if cursor:
            link = replace_query_param(
                self.request.build_absolute_uri(), self.cursor_query_param, cursor
            )
        return Response({"next": link, "next_cursor": cursor, "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "next_cursor", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "The next page's URL; null on the last page.",
                },
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "The `cursor` of the next page; null on the last page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque: the `next_cursor` of the previous page.",
                "schema": {"type": "string"},
            },
            _limit_parameter(self.max_limit, self.default_limit),
        ]


class NewestFirstPagination(KeysetPagination):
    """Newest first (logs): a row added while a client pages lands before its first page, so
    later pages never shift."""

    ordering = ("-id",)


class StrictLimitOffsetPagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        return strict_int(
            request, self.limit_query_param, default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT
        )

    def get_offset(self, request: Request) -> int:
        return strict_int(request, self.offset_query_param, default=0, minimum=0)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            _limit_parameter(self.max_limit, self.default_limit),
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "Rows to skip.",
                "schema": {"type": "integer", "minimum": 0, "default": 0},
            },
        ]
