"""Django's ASGI handler, with the request threads kept between requests.

Django runs each request's sync middleware and view in a thread-sensitive context of its own,
and asgiref gives every such context a new one-thread executor: a thread started per request,
and another one started to join it. Everything Django keeps per thread goes with it (the
database connection's wrapper, its prepared state), so every request paid for building them
again: about half the CPU of an API read (docs/benchmarks.md, "API load").

Here a request borrows an idle one-thread executor (a new one when none is idle) and gives it
back after its answer was sent. A request still has a thread of its own for its whole life,
as with Django's handler, so one slow request never holds up another.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

# Threads kept idle per process; more requests at once than this start threads of their own
# (as Django's handler does for every request), which end with their request.
IDLE_THREADS_KEPT = 32


class ThreadReusingASGIHandler(ASGIHandler):
    _middleware_chain: Any

    def __init__(self, idle_threads_kept: int = IDLE_THREADS_KEPT) -> None:
        super().__init__()
        self.idle_threads_kept = idle_threads_kept
        self._idle: list[ThreadPoolExecutor] = []

    def load_middleware(self, is_async: bool = False) -> None:
        # Every middleware of ours is sync, and so are the views: Django's async chain would
        # leave the request thread for the event loop at the view and come back (a hop each
        # way per request). Built in sync mode and entered once, the whole request runs in
        # its thread as under WSGI.
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self._idle.pop() if self._idle else self._new_executor()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            # A view still running after a disconnect keeps the thread busy: the next request
            # that borrows it waits its turn there, which is what one thread per request means.
            if len(self._idle) < self.idle_threads_kept:
                self._idle.append(executor)
            else:
                executor.shutdown(wait=False)

    @staticmethod
    def _new_executor() -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="doorstep-request")
