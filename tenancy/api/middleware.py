"""The API-wide behaviour every answer under /api/ shares, whichever view (or no view) made it:

- every error is a problem (RFC 9457, `application/problem+json`): Django's HTML 404 of a bad
  path, its 405/403 pages and the 500 page of a bug become problems, and a JSON error that is
  not yet one (`{"detail": ...}`) is rewritten as one;
- a per-client-address and a per-token rate limit (429 with Retry-After) in front of
  everything, so even bad tokens and bad paths count, both in one round trip to Redis;
- `ETag` on every successful read, and `If-None-Match` answered 304.

It is the outermost middleware (config/settings/base.py): it sees the answer after Django's
exception handling turned a bug into the 500 page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import get_conditional_response, patch_vary_headers

from ..tokens import token_hash
from .errors import PROBLEM_CONTENT_TYPE, problem
from .ratelimit import Hit, client_ip, rate_limit_hits

API_PREFIX = "/api/"
API_V1_PREFIX = "/api/v1/"
# Headers of the original error answer that the problem keeps.
KEPT_HEADERS = ("Retry-After", "Allow", "WWW-Authenticate", "Location")


def _is_problem(response: HttpResponse) -> bool:
    return str(response.get("Content-Type", "")).startswith(PROBLEM_CONTENT_TYPE)


def _detail_of(response: HttpResponse) -> str:
    """The `detail` of a JSON error answer that is not a problem yet; "" for anything else."""
    if not str(response.get("Content-Type", "")).startswith("application/json"):
        return ""
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else ""


def as_problem(response: HttpResponse) -> HttpResponse:
    """The same error as a problem, with the headers that matter to a client."""
    status = response.status_code
    detail = _detail_of(response) if not response.streaming else ""
    if not detail and status == 404:
        detail = "No such resource: check the path (the API's paths end with a slash)."
    answer = JsonResponse(problem(status, detail), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for header in KEPT_HEADERS:
        if header in response:
            answer[header] = response[header]
    return answer


def blank_parameters(request: HttpRequest) -> list[str]:
    if request.method not in ("GET", "HEAD") or not request.path.startswith(API_V1_PREFIX):
        return []  # another method gets its own answer (e.g. 405) first
    return sorted({name for name, values in request.GET.lists() if "" in values})


def _etag(content: bytes) -> str:
    return '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'


def _conditional(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if response.streaming or "ETag" in response:
        return response
    response["ETag"] = _etag(response.content)
    # The answer depends on who asks: shared caches must keep one per credential.
    patch_vary_headers(response, ("Authorization", "Cookie"))
    response.setdefault("Cache-Control", "private, no-cache")
    answer = get_conditional_response(request, etag=response["ETag"], response=response)
    return answer if answer is not None else response


def presented_token(request: HttpRequest) -> str | None:
    """The token of `Authorization: Token <token>`, valid or not; None without one."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) == 2 and parts[0].lower() == "token":
        return parts[1]
    return None


def _too_many(detail: str, retry_after: int) -> HttpResponse:
    refused = JsonResponse(problem(429, detail), status=429, content_type=PROBLEM_CONTENT_TYPE)
    refused["Retry-After"] = str(retry_after)
    return refused


class ApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        refused = self.rate_limited(request)
        if refused is not None:
            return refused
        blank = blank_parameters(request)
        if blank:
            # DRF and django-filter read `?start=` as "not given"; the contract says what a
            # parameter may hold, and an empty value is none of it: omit the parameter instead.
            return JsonResponse(
                problem(
                    400,
                    f"Invalid query parameter: {', '.join(blank)} (omit it instead of blank).",
                    errors=[
                        {"parameter": name, "detail": "Must not be blank.", "code": "blank"}
                        for name in blank
                    ],
                ),
                status=400,
                content_type=PROBLEM_CONTENT_TYPE,
            )
        response = self.get_response(request)
        if response.status_code >= 400:
            return response if _is_problem(response) else as_problem(response)
        if request.method in ("GET", "HEAD") and response.status_code == 200:
            return _conditional(request, response)
        return response

    @staticmethod
    def rate_limited(request: HttpRequest) -> HttpResponse | None:
        """The 429 of a client over its allowance: per address, and per token (the token as
        presented, keyed by its hash: counted before it is checked, so one round trip counts
        both)."""
        period = settings.API_RATE_LIMIT_PERIOD
        hits = [
            Hit("api-ip", client_ip(request) or "unknown", settings.API_RATE_LIMIT_PER_IP, period)
        ]
        token = presented_token(request)
        if token is not None:
            hits.append(
                Hit("api-token", token_hash(token), settings.API_RATE_LIMIT_PER_TOKEN, period)
            )
        waits = rate_limit_hits(*hits)
        if waits[0]:
            return _too_many("Too many requests from this address; slow down.", waits[0])
        if len(waits) > 1 and waits[1]:
            return _too_many("Too many requests with this token; try again later.", waits[1])
        return None
