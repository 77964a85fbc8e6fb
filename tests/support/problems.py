"""Reading the API's error answers: RFC 9457 problems (tenancy/api/errors.py)."""

from __future__ import annotations

from typing import Any


def problem_of(response: Any, status: int | None = None) -> dict[str, Any]:
    """The problem body of an error answer, checking its media type and members."""
    if status is not None:
        assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response.content[:300]
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == response.status_code
    return body


def problem_fields(response: Any) -> set[str]:
    """The body members (first pointer segment) and query parameters a 400 names."""
    body = problem_of(response)
    names = set()
    for error in body.get("errors", []):
        if "parameter" in error:
            names.add(error["parameter"])
        else:
            names.add(error["pointer"].lstrip("/").split("/")[0])
    return names
