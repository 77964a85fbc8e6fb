"""The one mapping of domain errors (tenancy/errors.py) to HTTP answers, and the one error
format of every API answer: RFC 9457 problem details (`application/problem+json`).

- `api_exception_handler` (`REST_FRAMEWORK["EXCEPTION_HANDLER"]`): DRF's errors and the domain
  errors as problems; a validation error lists every bad field in `errors` with a JSON pointer.
- `error_json` for plain Django JSON views, `error_answer` for edges that store or render the
  answer themselves (idempotency receipts, the htmx editors).
- `problem_response` for the middleware that turns Django's HTML 404/405/500 pages under
  /api/ into problems (tenancy/api/middleware.py).

A problem always has `type`, `title`, `status` and `detail`; `type` is a URI reference naming the
kind of problem (documented in docs/api.md), `title` its fixed summary, `detail` this occurrence.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from ..errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unprocessable,
)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://doorstep.dev/problems/"

STATUS_OF: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, 400),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unprocessable, 422),
    (RateLimited, 429),
)
# Everything a service may raise for a refusal, as opposed to a bug.
REFUSALS = (DomainError, DjangoValidationError, ObjectDoesNotExist)

# status -> (slug of the problem type, title). The slugs are the contract (docs/api.md).
PROBLEM_KINDS: dict[int, tuple[str, str]] = {
    400: ("invalid-request", "The request is invalid."),
    401: ("not-authenticated", "Authentication is needed."),
    403: ("forbidden", "You may not do this."),
    404: ("not-found", "No such resource."),
    405: ("method-not-allowed", "This method is not allowed here."),
    406: ("not-acceptable", "No acceptable representation."),
    409: ("conflict", "The resource's state does not allow this."),
    413: ("too-large", "The request body is too large."),
    415: ("unsupported-media-type", "The request body's media type is not supported."),
    422: ("idempotency-key-reused", "The Idempotency-Key was used for another request."),
    429: ("rate-limited", "Too many requests."),
    500: ("server-error", "Something went wrong on our side."),
    503: ("unavailable", "The service is unavailable; try again shortly."),
}
# Domain errors whose problem is not their status' usual kind (a 422 is mostly a reused
# Idempotency-Key): error class -> (slug, title).
PROBLEM_KIND_OF: tuple[tuple[type[DomainError], tuple[str, str]], ...] = (
    (Unprocessable, ("unprocessable", "The request does not fit the resource as it is now.")),
)


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_BASE + slug


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A problem-details body. `extra` carries the problem's own facts (an order id...)."""
    default_slug, default_title = PROBLEM_KINDS.get(status, ("error", "The request failed."))
    body: dict[str, Any] = {
        "type": problem_type(slug or default_slug),
        "title": title or default_title,
        "status": status,
        # A problem always says something: an error without words (Django's 400 for a body
        # over DATA_UPLOAD_MAX_MEMORY_SIZE) gets its kind's title.
        "detail": detail or title or default_title,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return body


def _pointer(path: list[str]) -> str:
    # RFC 6901: "~" and "/" in a name are escaped.
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)


def validation_errors(detail: Any, path: list[str] | None = None) -> list[dict[str, str]]:
    """DRF's nested error detail as a flat list of {pointer, detail, code}; errors of the whole
    body (`non_field_errors`) point at the document root ("")."""
    path = path or []
    if isinstance(detail, dict):
        found: list[dict[str, str]] = []
        for name, value in detail.items():
            where = path if name in ("non_field_errors", "__all__") else [*path, str(name)]
            found.extend(validation_errors(value, where))
        return found
    if isinstance(detail, list):
        found = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                found.extend(validation_errors(value, [*path, str(index)]))
            else:
                found.extend(validation_errors(value, path))
        return found
    code = getattr(detail, "code", None) or "invalid"
    return [{"pointer": _pointer(path), "detail": str(detail), "code": str(code)}]


class InvalidQuery(exceptions.ValidationError):
    """A bad query parameter: its problem's `errors` name the `parameter`, not a pointer."""


def query_error(parameter: str, message: str) -> InvalidQuery:
    return InvalidQuery({parameter: [message]})


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
    """(status, problem body) of a refusal, None for anything else. The domain error's `extra`
    facts are members of the problem; a Django ValidationError lists its fields in `errors`."""
    status = error_status(exc)
    if status is None:
        return None
    extra = exc.extra if isinstance(exc, DomainError) else {}
    errors = None
    if isinstance(exc, DjangoValidationError):
        errors = validation_errors(serializers.as_serializer_error(exc))
    slug, title = next(
        (kind for cls, kind in PROBLEM_KIND_OF if isinstance(exc, cls)), (None, None)
    )
    return status, problem(status, error_text(exc), slug=slug, title=title, errors=errors, **extra)


def _retry_after(response: JsonResponse | Response, exc: BaseException) -> None:
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, exceptions.Throttled):
        wait = getattr(exc, "wait", None)
        if wait is not None:
            response["Retry-After"] = str(max(1, int(wait + 0.999)))


def problem_response(status: int, detail: str = "", **kwargs: Any) -> JsonResponse:
    """A problem as a plain Django response (for middleware and non-DRF views)."""
    return JsonResponse(
        problem(status, detail, **kwargs), status=status, content_type=PROBLEM_CONTENT_TYPE
    )


def error_json(exc: BaseException) -> JsonResponse:
    """The problem answer of a refusal for a plain Django view; re-raises anything else."""
    answer = error_answer(exc)
    if answer is None:
        raise exc
    status, body = answer
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    _retry_after(response, exc)
    return response


def _drf_problem(exc: exceptions.APIException) -> tuple[int, dict[str, Any]]:
    status = exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        errors = validation_errors(exc.detail)
        if isinstance(exc, InvalidQuery):
            errors = [
                {
                    "parameter": e["pointer"].lstrip("/").split("/")[0],
                    "detail": e["detail"],
                    "code": e["code"],
                }
                for e in errors
            ]
            names = ", ".join(sorted({e["parameter"] for e in errors}))
            return status, problem(status, f"Invalid query parameter: {names}.", errors=errors)
        fields = sorted({e["pointer"].lstrip("/").split("/")[0] for e in errors} - {""})
        detail = (
            "Invalid input: " + ", ".join(fields) + "."
            if fields
            else (errors[0]["detail"] if errors else "Invalid input.")
        )
        return status, problem(status, detail, errors=errors)
    if isinstance(exc.detail, dict | list):
        return status, problem(status, "", errors=validation_errors(exc.detail))
    return status, problem(status, str(exc.detail))


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler: every refusal is a problem (`application/problem+json`); anything else
    is a bug and propagates (the middleware answers it as a 500 problem)."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=serializers.as_serializer_error(exc))
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, DomainError):
        answer = error_answer(exc)
        assert answer is not None  # every DomainError has a status
        response = Response(answer[1], status=answer[0], content_type=PROBLEM_CONTENT_TYPE)
        _retry_after(response, exc)
        return response
    if not isinstance(exc, exceptions.APIException):
        return None
    status, body = _drf_problem(exc)
    response = Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    _retry_after(response, exc)
    return response
