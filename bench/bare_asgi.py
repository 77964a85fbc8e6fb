"""The bare ASGI baseline of the ingest benchmark: an application that answers "OK" to every
HTTP request and does nothing else (no Django, no database), served by the same
scripts/serve.py + Daphne as the ingest. What Daphne and Twisted cost per request by
themselves, so the OsmAnd figure can be read against the server's own ceiling."""

from __future__ import annotations

from typing import Any

if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is not a benchmark
    raise SystemExit(0)

HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"2")]


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    # Read the request to its end, as the ingest handler does.
    while True:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b"OK"})
