"""The one mapping of domain errors to HTTP answers (tenancy/api/errors.py)."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ObjectDoesNotExist, ValidationError

from deliveries.services.routes import RouteConflict
from deliveries.transitions import InvalidTransition
from tenancy.api.errors import api_exception_handler, error_answer, error_json, error_status
from tenancy.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (InvalidInput("bad"), 400),
        (ValidationError({"hub": "No such hub."}), 400),
        (PermissionDenied("no"), 403),
        (NotFound("gone"), 404),
        (ObjectDoesNotExist(), 404),
        (Conflict("moved on"), 409),
        (InvalidTransition("cannot become delivered"), 409),
        (RouteConflict("completed"), 409),
        (RateLimited("slow down", retry_after=7), 429),
        (DomainError("some refusal"), 400),
        (RuntimeError("a bug"), None),
    ],
)
def test_every_refusal_has_one_status(exc: Exception, status: int | None) -> None:
    assert error_status(exc) == status


def test_the_body_is_the_detail_with_the_errors_facts() -> None:
    assert error_answer(Conflict("cannot", extra={"order_status": "arrived"})) == (
        409,
        {"detail": "cannot", "order_status": "arrived"},
    )
    assert error_answer(ValidationError({"reason": "Pick why."})) == (
        400,
        {"detail": "reason: Pick why."},
    )
    assert error_answer(ValueError("not a refusal")) is None


def test_the_json_helper_answers_and_sets_retry_after() -> None:
    response = error_json(RateLimited("Too many requests.", retry_after=12))
    assert response.status_code == 429 and response["Retry-After"] == "12"
    assert json.loads(response.content) == {"detail": "Too many requests."}
    with pytest.raises(KeyError):
        error_json(KeyError("a bug stays a bug"))


def test_the_drf_handler_keeps_the_field_shape_of_validation_errors() -> None:
    response = api_exception_handler(ValidationError({"latitude": "Out of range."}), {})
    assert response is not None and response.status_code == 400
    assert response.data == {"latitude": ["Out of range."]}
    conflict = api_exception_handler(InvalidTransition("cannot become delivered"), {})
    assert conflict is not None and conflict.status_code == 409
    assert conflict.data == {"detail": "cannot become delivered"}
    assert api_exception_handler(RuntimeError("a bug"), {}) is None


def test_rate_limit_enforce_raises_rate_limited_over_the_limit() -> None:
    import uuid

    from tenancy.api.ratelimit import rate_limit_enforce

    client = f"test-{uuid.uuid4()}"
    for _ in range(2):
        rate_limit_enforce(bucket="test", key=client, limit=2)
    with pytest.raises(RateLimited) as refused:
        rate_limit_enforce(bucket="test", key=client, limit=2)
    assert error_status(refused.value) == 429 and refused.value.retry_after >= 1
