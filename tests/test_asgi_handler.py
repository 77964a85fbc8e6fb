"""The web process's ASGI handler (config/asgi_handler.py): a request runs in one thread of
its own from the first middleware to the view, and the threads are kept for later requests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished, request_started
from django.db import connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path

from config.asgi_handler import ThreadReusingASGIHandler

seen: list[dict[str, Any]] = []
release_slow = threading.Event()


def where(request: HttpRequest) -> HttpResponse:
    seen.append(
        {
            "thread": threading.get_ident(),
            "middleware_thread": request.middleware_thread,  # type: ignore[attr-defined]
            "database": id(connections["default"]),
        }
    )
    return HttpResponse("OK")


def slow(request: HttpRequest) -> HttpResponse:
    seen.append({"thread": threading.get_ident()})
    release_slow.wait(10)
    return HttpResponse("slow")


def fast(request: HttpRequest) -> HttpResponse:
    seen.append({"thread": threading.get_ident()})
    release_slow.set()  # answered while the slow one still waits: they run side by side
    return HttpResponse("fast")


held = {"running": 0, "most": 0}
release_held = threading.Event()
held_lock = threading.Lock()


def hold(request: HttpRequest) -> HttpResponse:
    with held_lock:
        held["running"] += 1
        held["most"] = max(held["most"], held["running"])
    release_held.wait(10)
    with held_lock:
        held["running"] -= 1
    return HttpResponse("held")


urlpatterns = [
    path("where/", where),
    path("slow/", slow),
    path("fast/", fast),
    path("hold/", hold),
]


class ThreadOfMiddleware:
    """Notes the thread the outermost middleware ran in."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.middleware_thread = threading.get_ident()  # type: ignore[attr-defined]
        response: HttpResponse = self.get_response(request)
        return response


async def get(app: ThreadReusingASGIHandler, url: str) -> tuple[int, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": url, "raw_path": url.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }  # fmt: skip
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(15)
    body = await communicator.receive_output(15)
    await communicator.wait(15)
    return int(start["status"]), bytes(body["body"])


@pytest.fixture
def app() -> Iterator[ThreadReusingASGIHandler]:
    seen.clear()
    release_slow.clear()
    with override_settings(
        ROOT_URLCONF=__name__, MIDDLEWARE=[f"{__name__}.ThreadOfMiddleware"], ALLOWED_HOSTS=["*"]
    ):
        yield ThreadReusingASGIHandler(idle_threads_kept=2)


def test_a_request_runs_in_one_thread_and_the_next_request_reuses_it(
    app: ThreadReusingASGIHandler,
) -> None:
    async def two() -> None:
        assert await get(app, "/where/") == (200, b"OK")
        assert await get(app, "/where/") == (200, b"OK")

    asyncio.run(two())
    first, second = seen
    assert first["thread"] == first["middleware_thread"]  # no hop between middleware and view
    assert second["thread"] == first["thread"]
    # Django's per-thread state (the database connection's wrapper) lives on with the thread.
    assert second["database"] == first["database"]


def test_requests_at_the_same_time_each_have_a_thread(app: ThreadReusingASGIHandler) -> None:
    async def together() -> list[tuple[int, bytes]]:
        slow_answer = asyncio.ensure_future(get(app, "/slow/"))
        await asyncio.sleep(0.2)
        fast_answer = await get(app, "/fast/")
        return [await slow_answer, fast_answer]

    assert asyncio.run(together()) == [(200, b"slow"), (200, b"fast")]
    assert seen[0]["thread"] != seen[1]["thread"]


def test_threads_beyond_the_idle_allowance_end_with_their_request(
    app: ThreadReusingASGIHandler,
) -> None:
    async def three_at_once() -> None:
        release_slow.set()
        await asyncio.gather(*(get(app, "/slow/") for _ in range(3)))

    asyncio.run(three_at_once())
    assert len(app._idle) == 2


def streamed(request: HttpRequest) -> StreamingHttpResponse:
    seen.append({"thread": threading.get_ident()})
    return StreamingHttpResponse(iter([b"part one, ", b"part two"]))


urlpatterns.append(path("streamed/", streamed))


class SignalLog:
    def __init__(self) -> None:
        self.entries: list[tuple[str, int]] = []

    def started(self, **kwargs: Any) -> None:
        self.entries.append(("started", threading.get_ident()))

    def finished(self, **kwargs: Any) -> None:
        self.entries.append(("finished", threading.get_ident()))


@pytest.fixture
def signal_log() -> Iterator[SignalLog]:
    log = SignalLog()
    request_started.connect(log.started)
    request_finished.connect(log.finished)
    yield log
    request_started.disconnect(log.started)
    request_finished.disconnect(log.finished)


def counting_submissions(app: ThreadReusingASGIHandler) -> list[int]:
    """Counts the work items handed to the request threads (one per hop)."""
    submitted = [0]
    new_executor = app._new_executor

    def counted() -> ThreadPoolExecutor:
        executor = new_executor()
        submit = executor.submit

        def submit_counted(*args: Any, **kwargs: Any) -> Any:
            submitted[0] += 1
            return submit(*args, **kwargs)

        executor.submit = submit_counted  # type: ignore[method-assign]
        return executor

    app._new_executor = counted  # type: ignore[method-assign]
    return submitted


def test_a_request_goes_to_its_thread_once_and_its_signals_are_sent_there(
    app: ThreadReusingASGIHandler, signal_log: SignalLog
) -> None:
    submitted = counting_submissions(app)
    assert asyncio.run(get(app, "/where/")) == (200, b"OK")
    assert submitted == [1]  # Django's handler: three (started, the view, the close)
    view_thread = seen[0]["thread"]
    assert signal_log.entries == [("started", view_thread), ("finished", view_thread)]


def test_a_streamed_answer_is_closed_after_it_was_sent(
    app: ThreadReusingASGIHandler, signal_log: SignalLog
) -> None:
    async def streamed_get() -> bytes:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": "/streamed/", "raw_path": b"/streamed/",
            "query_string": b"", "root_path": "", "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 1), "server": ("testserver", 80),
        }  # fmt: skip
        communicator = ApplicationCommunicator(app, scope)
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        await communicator.receive_output(15)  # the status and headers
        body = b""
        while True:
            message = await communicator.receive_output(15)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
            assert [name for name, _ in signal_log.entries] == ["started"]  # still open
        await communicator.wait(15)
        return body

    with pytest.warns(Warning, match="StreamingHttpResponse must consume synchronous"):
        assert asyncio.run(streamed_get()) == b"part one, part two"
    assert [name for name, _ in signal_log.entries] == ["started", "finished"]


# --- admission: a few requests at once per process, the others wait their turn ------------


def admitting(requests_at_once: int, slow_after: float) -> ThreadReusingASGIHandler:
    return ThreadReusingASGIHandler(
        idle_threads_kept=2, requests_at_once=requests_at_once, slow_after=slow_after
    )


def test_no_more_requests_run_at_once_than_the_allowance(app: ThreadReusingASGIHandler) -> None:
    held.update(running=0, most=0)
    release_held.clear()
    limited = admitting(2, slow_after=30)

    async def three() -> list[tuple[int, bytes]]:
        answers = [asyncio.ensure_future(get(limited, "/hold/")) for _ in range(3)]
        await asyncio.sleep(0.5)
        # Two run, the third waits for a turn (in the event loop, without a thread).
        assert held["running"] == 2
        release_held.set()
        return list(await asyncio.gather(*answers))

    assert asyncio.run(three()) == [(200, b"held")] * 3
    assert held["most"] == 2


def test_a_slow_request_gives_its_turn_to_the_next(app: ThreadReusingASGIHandler) -> None:
    """One request at a time, and the first never ends by itself (it waits for the second):
    past `slow_after` it stops counting, so the second runs and lets it finish."""
    one_at_a_time = admitting(1, slow_after=0.1)

    async def slow_then_fast() -> list[tuple[int, bytes]]:
        slow_answer = asyncio.ensure_future(get(one_at_a_time, "/slow/"))
        await asyncio.sleep(0.05)
        return [await get(one_at_a_time, "/fast/"), await slow_answer]

    started = asyncio.run(asyncio.wait_for(slow_then_fast(), 5))
    assert started == [(200, b"fast"), (200, b"slow")]
    assert seen[0]["thread"] != seen[1]["thread"]  # side by side, each in its own thread
