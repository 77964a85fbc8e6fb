"""A small per-client request limiter on the shared cache (Redis), for public endpoints and
APIs of every app (the tracking page and its proof files today).

Fixed windows: one counter per client and window, created with `add` and bumped with `incr`
(both atomic in Redis), expiring with the window. Coarse, but cheap and good enough to stop a
scraper walking tracking codes; it is not an abuse-detection system.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from ..errors import RateLimited

logger = logging.getLogger(__name__)

# Any view: streamed answers (a FileResponse) are limited like rendered ones.
View = Callable[..., HttpResponseBase]


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the peer, or the one our own proxies put in X-Forwarded-For.

    Only the last `RATE_LIMIT_TRUSTED_PROXIES` entries are written by proxies we run; anything
    left of them comes from the client and could be forged, so it is never trusted. The one
    answer to "who is this client" for every limiter: the tracking page's and the login
    throttle's (django-axes, `AXES_CLIENT_IP_CALLABLE`). None when the request has no
    address at all (a unix socket, a request built in code such as `force_login`'s).
    """
    proxies = settings.RATE_LIMIT_TRUSTED_PROXIES
    forwarded = [ip.strip() for ip in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [ip for ip in forwarded if ip]
    if proxies and len(forwarded) >= proxies and _is_ip(forwarded[-proxies]):
        return forwarded[-proxies]
    peer = request.META.get("REMOTE_ADDR")
    return str(peer) if peer else None


def _is_ip(text: str) -> bool:
    # Not an address means no proxy of ours wrote it (e.g. too many proxies configured): the
    # peer is the better answer, and axes stores the address in an inet column.
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Hit:
    """One request to count against one client's allowance: `limit` per `period` seconds."""

    bucket: str
    key: str
    limit: int
    period: int = 60


def _window_counts(cache_keys: list[tuple[str, int]]) -> list[int]:
    """Count one hit in each window's counter (key, period) and return the counts: one INCR
    each, all sent in one round trip (plus one for the EXPIREs of windows this hit opened).
    The cache API's add-then-incr took three round trips per counter. A counter left without
    its expiry (a crash between the two) names a past window: never read again."""
    backend = caches[DEFAULT_CACHE_ALIAS]  # `cache` is a proxy of it
    if not isinstance(backend, RedisCache):  # another backend: its own atomic add and incr
        return [_window_count_portable(key, period) for key, period in cache_keys]
    keys = [(backend.make_and_validate_key(key), period) for key, period in cache_keys]
    client = backend._cache.get_client(keys[0][0], write=True)
    pipe = client.pipeline(transaction=False)
    for key, _ in keys:
        pipe.incr(key)
    counts = [int(count) for count in pipe.execute()]
    opened = [
        (key, period) for (key, period), count in zip(keys, counts, strict=True) if count == 1
    ]
    if opened:
        pipe = client.pipeline(transaction=False)
        for key, period in opened:
            pipe.expire(key, period + 1)
        pipe.execute()
    return counts


def _window_count_portable(cache_key: str, period: int) -> int:
    try:
        return 1 if cache.add(cache_key, 1, timeout=period + 1) else int(cache.incr(cache_key))
    except ValueError:
        # The counter expired between add and incr: this request opens the next window.
        return 1


def rate_limit_hits(*hits: Hit) -> list[int]:
    """Count one request against each allowance, in one round trip to the cache; for each,
    0 when it is allowed, else the seconds until it would be. The limiter failing open: with
    the cache unreachable every hit is allowed (and logged)."""
    now = time.time()
    windows = [int(now // hit.period) for hit in hits]
    keys = [
        (f"ratelimit:{hit.bucket}:{hit.key}:{window}", hit.period)
        for hit, window in zip(hits, windows, strict=True)
    ]
    try:
        counts = _window_counts(keys)
    except Exception:
        logger.warning(
            "rate limiter unavailable; letting %s through",
            ", ".join(hit.bucket for hit in hits),
            exc_info=True,
        )
        return [0] * len(hits)
    return [
        0 if count <= hit.limit else max(1, math.ceil((window + 1) * hit.period - now))
        for hit, window, count in zip(hits, windows, counts, strict=True)
    ]


def rate_limit_hit(*, bucket: str, key: str, limit: int, period: int = 60) -> int:
    """Count one request of `key`; 0 when it is allowed, else the seconds until it would be."""
    return rate_limit_hits(Hit(bucket, key, limit, period))[0]


def rate_limit_enforce(*, bucket: str, key: str, limit: int, period: int = 60) -> None:
    """Count one request of `key`; raise RateLimited (429 with Retry-After, through
    tenancy/api/errors.py) once it is over `limit` per `period` seconds."""
    retry_after = rate_limit_hit(bucket=bucket, key=key, limit=limit, period=period)
    if retry_after:
        raise RateLimited("Too many requests; try again later.", retry_after=retry_after)


def rate_limited(
    *,
    bucket: str,
    limit: Callable[[], int],
    refused: Callable[[HttpRequest, int], HttpResponse],
    period: int = 60,
) -> Callable[[View], View]:
    """Decorate a view: over `limit()` requests per client per `period` seconds answer
    `refused(request, retry_after)` with status 429 and a Retry-After header."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            retry_after = rate_limit_hit(
                bucket=bucket, key=client_ip(request) or "unknown", limit=limit(), period=period
            )
            if not retry_after:
                return view(request, *args, **kwargs)
            response = refused(request, retry_after)
            response.status_code = 429
            response["Retry-After"] = str(retry_after)
            return response

        return wrapper

    return decorate
