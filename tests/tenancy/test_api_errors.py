"""The one mapping of domain errors to HTTP answers (tenancy/api/errors.py)."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from rest_framework import exceptions as drf_exceptions

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


def test_the_body_is_a_problem_with_the_errors_facts() -> None:
    assert error_answer(Conflict("cannot", extra={"order_status": "arrived"})) == (
        409,
        {
            "type": "https://doorstep.dev/problems/conflict",
            "title": "The resource's state does not allow this.",
            "status": 409,
            "detail": "cannot",
            "order_status": "arrived",
        },
    )
    status, body = error_answer(ValidationError({"reason": "Pick why."})) or (0, {})
    assert status == 400 and body["detail"] == "reason: Pick why."
    assert body["errors"] == [{"pointer": "/reason", "detail": "Pick why.", "code": "invalid"}]
    assert error_answer(ValueError("not a refusal")) is None


def test_the_json_helper_answers_and_sets_retry_after() -> None:
    response = error_json(RateLimited("Too many requests.", retry_after=12))
    assert response.status_code == 429 and response["Retry-After"] == "12"
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["detail"] == "Too many requests." and body["status"] == 429
    with pytest.raises(KeyError):
        error_json(KeyError("a bug stays a bug"))


def test_the_drf_handler_answers_problems_with_field_pointers() -> None:
    response = api_exception_handler(ValidationError({"latitude": "Out of range."}), {})
    assert response is not None and response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.data["errors"] == [
        {"pointer": "/latitude", "detail": "Out of range.", "code": "invalid"}
    ]
    assert response.data["detail"] == "Invalid input: latitude."
    nested = api_exception_handler(
        drf_exceptions.ValidationError({"items": [{}, {"hub": ["Required."]}]}), {}
    )
    assert nested is not None
    assert nested.data["errors"][0]["pointer"] == "/items/1/hub"
    conflict = api_exception_handler(InvalidTransition("cannot become delivered"), {})
    assert conflict is not None and conflict.status_code == 409
    assert conflict.data["detail"] == "cannot become delivered"
    assert conflict.data["type"].endswith("/conflict")
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
