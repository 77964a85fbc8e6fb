"""The one mapping of domain errors (tenancy/errors.py) to HTTP answers: the DRF exception
handler (`REST_FRAMEWORK["EXCEPTION_HANDLER"]`), `error_json` for plain Django JSON views, and
`error_answer` for edges that store or render the answer themselves (idempotency receipts, the
htmx editors)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied, RateLimited

STATUS_OF: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, 400),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
)
# Everything a service may raise for a refusal, as opposed to a bug.
REFUSALS = (DomainError, DjangoValidationError, ObjectDoesNotExist)


def error_status(exc: BaseException) -> int | None:
    """The HTTP status of a refusal, None for anything else (a bug: let it be a 500)."""
    if isinstance(exc, DjangoValidationError):
        return 400
    if isinstance(exc, ObjectDoesNotExist):
        return 404
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 400 if isinstance(exc, DomainError) else None


def error_text(exc: BaseException) -> str:
    """The refusal in one line: a ValidationError's messages prefixed by their fields."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return " ".join(f"{name}: {' '.join(m)}" for name, m in exc.message_dict.items())
        return " ".join(exc.messages)
    if isinstance(exc, ObjectDoesNotExist):
        return str(exc) or "Not found."
    return str(exc)


def error_answer(exc: BaseException) -> tuple[int, dict[str, Any]] | None:
    """(status, body) of a refusal, `{"detail": text, **extra}`; None for anything else."""
    status = error_status(exc)
    if status is None:
        return None
    extra = exc.extra if isinstance(exc, DomainError) else {}
    return status, {"detail": error_text(exc), **extra}


def _retry_after(response: JsonResponse | Response, exc: BaseException) -> None:
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)


def error_json(exc: BaseException) -> JsonResponse:
    """The JSON answer of a refusal for a plain Django view; re-raises anything else."""
    answer = error_answer(exc)
    if answer is None:
        raise exc
    status, body = answer
    response = JsonResponse(body, status=status)
    _retry_after(response, exc)
    return response


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, taught the domain errors. A Django ValidationError keeps DRF's field
    shape (`{"field": ["message"]}`), which API clients read per field."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=serializers.as_serializer_error(exc))
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DomainError):
        status, body = error_answer(exc) or (400, {"detail": str(exc)})
        response = Response(body, status=status)
        _retry_after(response, exc)
        return response
    return drf_exception_handler(exc, context)
