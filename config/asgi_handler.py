"""Django's ASGI handler, with the request threads kept between requests.

Django runs each request's sync middleware and view in a thread-sensitive context of its own,
and asgiref gives every such context a new one-thread executor: a thread started per request,
and another one started to join it. Everything Django keeps per thread goes with it (the
database connection's wrapper, its prepared state), so every request paid for building them
again: about half the CPU of an API read (docs/benchmarks.md, "API load").

Here a request borrows an idle one-thread executor (a new one when none is idle) and gives it
back after its answer was sent. A request still has a thread of its own for its whole life,
as with Django's handler, so one slow request never holds up another.

And a request goes to its thread once, not three times: Django's handler sends
`request_started` there (a hop of its own, before the middleware), and after the answer was
sent it closes the answer there (`request_finished`, another hop). Here the signal is sent in
the thread right before the middleware, and an answer that is not streamed (its body is
complete) is closed there right after the view, before it is sent; a streamed one is closed
after it was sent, as by Django.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix

# Threads kept idle per process; more requests at once than this start threads of their own
# (as Django's handler does for every request), which end with their request.
IDLE_THREADS_KEPT = 32


class Admission:
    """At most `size` requests of the process run at once; the others wait for a turn in the
    order they came (asyncio's semaphore is first come, first served).

    One process runs Python on one core at a time (the GIL): fifty requests started together
    take as long in all as fifty one after the other, but each of them waits for all the
    others at every database and Redis round trip, and the threads' hand-overs cost CPU of
    their own. A few at once keep the core busy through those round trips; the rest wait
    in line, in the event loop, without a thread (docs/benchmarks.md, "API load").

    A request still running after `grace` seconds (a report, an export, a streamed proof
    file, a client reading slowly) gives its turn to the next one and runs on outside the
    count: a slow request holds the quick ones up by `grace` at most. `size` 0: no limit.
    """

    def __init__(self, size: int, grace: float) -> None:
        self.size, self.grace = size, grace
        self._turns = asyncio.Semaphore(size) if size > 0 else None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        turns = self._turns
        if turns is None:
            yield
            return
        await turns.acquire()
        given_back = False

        def give_back() -> None:
            nonlocal given_back
            if not given_back:
                given_back = True
                turns.release()

        timer = asyncio.get_running_loop().call_later(self.grace, give_back)
        try:
            yield
        finally:
            timer.cancel()
            give_back()


class ThreadReusingASGIHandler(ASGIHandler):
    _middleware_chain: Any

    def __init__(
        self,
        idle_threads_kept: int = IDLE_THREADS_KEPT,
        requests_at_once: int | None = None,
        slow_after: float | None = None,
    ) -> None:
        super().__init__()
        self.idle_threads_kept = idle_threads_kept
        self._idle: list[ThreadPoolExecutor] = []
        self.admission = Admission(
            settings.WEB_REQUESTS_AT_ONCE if requests_at_once is None else requests_at_once,
            settings.WEB_SLOW_REQUEST_SECONDS if slow_after is None else slow_after,
        )

    def load_middleware(self, is_async: bool = False) -> None:
        # Every middleware of ours is sync, and so are the views: Django's async chain would
        # leave the request thread for the event loop at the view and come back (a hop each
        # way per request). Built in sync mode and entered once, the whole request runs in
        # its thread as under WSGI.
        super().load_middleware(is_async=False)
        chain = self._middleware_chain
        handler_class = type(self)

        def in_request_thread(request: HttpRequest) -> HttpResponseBase:
            signals.request_started.send(sender=handler_class, scope=request.scope)  # type: ignore[attr-defined]
            response: HttpResponseBase = chain(request)
            if not response.streaming:
                # Complete: closed here (request_finished, the request's files), not in a hop
                # of its own after it was sent. handle() sees it closed.
                response._handler_class = handler_class  # type: ignore[attr-defined]
                response._resource_closers.append(request.close)  # type: ignore[attr-defined]
                response.close()
            return response

        self._middleware_chain = sync_to_async(in_request_thread, thread_sensitive=True)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with self.admission.turn():
            executor = self._idle.pop() if self._idle else self._new_executor()
            try:
                async with ThreadSensitiveContext(executor=executor):
                    await self.handle(scope, receive, send)
            finally:
                # A view still running after a disconnect keeps the thread busy: the next
                # request that borrows it waits its turn there, which is what one thread per
                # request means.
                if len(self._idle) < self.idle_threads_kept:
                    self._idle.append(executor)
                else:
                    executor.shutdown(wait=False)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django's ASGIHandler.handle (5.2) but for the two hops (module docstring):
        `request_started` is sent in the request thread, and an answer closed there is not
        closed again."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None
            await signals.request_started.asend(sender=self.__class__, scope=scope)
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return

        async def process_request(request: HttpRequest, send: Any) -> HttpResponseBase:
            response = await self.run_get_response(request)
            # The client disconnected while the answer was sent: nothing more to do.
            with contextlib.suppress(asyncio.CancelledError):
                await self.send_response(response, send)
            return response

        # As Django: the disconnect listener first, so a disconnect cancels the request.
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if response is not None and not response.closed:  # type: ignore[attr-defined]
                await sync_to_async(response.close)()
        body_file.close()

    @staticmethod
    def _new_executor() -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="doorstep-request")
