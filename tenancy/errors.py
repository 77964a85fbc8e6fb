"""The domain errors every service raises. A service says what went wrong in the domain's words;
the edges (tenancy/api/errors.py: the DRF handler and the JSON helper, the htmx views) decide
the HTTP answer, from one mapping. Services never speak HTTP.

Django's `ValidationError` stays the error of a bad field (forms and `full_clean` raise it) and
`ObjectDoesNotExist` the error of an id the organization does not have; the mapping treats them
as `InvalidInput` and `NotFound`.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal of the domain. `extra` carries facts the caller may show with the message
    (e.g. the order's current status beside "cannot become delivered")."""

    def __init__(self, message: str = "", *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = dict(extra or {})


class InvalidInput(DomainError):
    """The request itself is wrong: a missing or malformed value."""


class NotFound(DomainError):
    """No such thing in this organization (or not one the caller may see)."""


class Conflict(DomainError):
    """The thing exists but cannot change this way now (its state moved on)."""


class Unprocessable(DomainError):
    """The request is well formed but does not fit what it names as it is now: a whole new
    order of a route's stops that is not exactly the route's stops."""


class PermissionDenied(DomainError):
    """The caller may not do this."""


class RateLimited(DomainError):
    """Too many requests; try again in `retry_after` seconds."""

    def __init__(self, message: str = "", *, retry_after: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
