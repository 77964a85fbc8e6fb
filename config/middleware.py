"""A full connection pool is answered 503 with Retry-After, not 500 with a traceback."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from psycopg_pool import PoolTimeout, TooManyRequests

from tenancy.api.errors import problem_response

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait: the pool frees a connection per finished request, so
# a short pause is enough; long enough that a retrying client does not add to the rush.
RETRY_AFTER_SECONDS = 5

BUSY_PAGE = (
    "<!doctype html><title>Busy</title>"
    "<h1>Doorstep is busy</h1><p>Please try again in a few seconds.</p>"
)


def pool_exhausted(exc: BaseException | None) -> bool:
    """Is this (or what it was raised from) the pool giving up? Django wraps psycopg's errors
    in its own OperationalError, with the original as the cause."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, PoolTimeout | TooManyRequests):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def busy_response(request: HttpRequest) -> HttpResponse:
    logger.warning("database pool exhausted: %s %s answered 503", request.method, request.path)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = problem_response(503, "Service busy, retry shortly.")
    else:
        response = HttpResponse(BUSY_PAGE, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    # Answered before CommonMiddleware, which would otherwise add it: keep-alive clients
    # need it to find the end of the answer.
    response["Content-Length"] = str(len(response.content))
    return response


def http_share(pool_size: int) -> int:
    """How many of a process's pooled connections page and API requests may hold at once.
    The rest is kept for the websocket consumers and the live hub: their lookups run in a
    few shared threads (Channels' session and user lookup in a single one), so if they had
    to queue behind every page request for a connection, handshakes would pile up behind
    each other past Daphne's 5 s handshake timeout (measured with bench/load.py)."""
    return max(1, pool_size - max(1, pool_size // 5))


class DatabaseBusyMiddleware:
    """Takes the request's connection from the pool up front and gives it back as soon as
    the inner middleware and the view are done. Whichever middleware or view would have asked
    first (the session, the user, the tenant), the wait for a connection happens here, once,
    and its timeout becomes a 503: Django turns an exception raised inside a later middleware
    into a 500 before any outer middleware could see it. The connection is the request
    thread's, so everything in between reuses it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        pool = connection.settings_dict["OPTIONS"].get("pool")
        self.pooled = bool(pool)
        if pool:
            self.timeout = float(pool.get("timeout", 30))
            self.share = threading.BoundedSemaphore(http_share(int(pool["max_size"])))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.pooled:
            return self.get_response(request)
        if not self.share.acquire(timeout=self.timeout):
            return busy_response(request)
        try:
            try:
                connection.ensure_connection()
            except OperationalError as exc:
                if pool_exhausted(exc):
                    return busy_response(request)
                raise
            return self.get_response(request)
        finally:
            # Back to the pool now rather than after the answer has been sent, so the share
            # counts exactly the connections requests hold. A streaming answer that still
            # reads takes one again, from the pool (bounded), outside the share.
            connection.close()
            self.share.release()

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # A view that gave its connection back and asked again (rare) meets the pool there.
        return busy_response(request) if pool_exhausted(exception) else None
