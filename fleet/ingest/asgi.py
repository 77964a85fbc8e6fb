"""The ingest endpoints as a bare ASGI app in front of Django: no middleware, no sessions, no
templates on the path a tracker hits once per fix. Everything else goes to Django."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from tenancy.api.errors import PROBLEM_CONTENT_TYPE, problem
from tenancy.tokens import token_hash

from .database import Unavailable
from .decode import DecodeError, Fix, batch_fix, osmand_from_json, osmand_from_params, query_params
from .directory import DeviceInfo
from .service import UNAUTHORIZED, UNKNOWN_DEVICE, ingest_service

logger = logging.getLogger(__name__)

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
OSMAND_PATHS = frozenset({"/ingest/osmand/", "/ingest/osmand"})
BATCH_PATHS = frozenset({"/api/v1/positions/batch/", "/api/v1/positions/batch"})
OSMAND_MAX_BODY = 64 * 1024
BATCH_MAX_BODY = 4 * 1024 * 1024
BATCH_MAX_FIXES = 10_000
# The refusal for an unknown device and for a known one without its token (where required).
DEVICE_REFUSED = "unknown device or wrong token"


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Any, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def respond(
    send: Any, status: int, body: bytes | str, content_type: bytes = b"text/plain"
) -> None:
    payload = body.encode() if isinstance(body, str) else body
    headers = [(b"content-type", content_type), (b"content-length", str(len(payload)).encode())]
    if status == 503:
        headers.append((b"retry-after", b"5"))
    elif status == 405:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def json_document(body: bytes) -> Any:
    """The OsmAnd JSON variant keeps Python's reader: it accepts NaN and Infinity, which the
    decoder then refuses per fix (recorded) instead of failing the whole request."""
    try:
        return json.loads(body or b"null")
    except RecursionError as exc:
        raise DecodeError("JSON nested too deeply") from exc
    except ValueError as exc:
        raise DecodeError("malformed JSON") from exc


def osmand_authorized(device: DeviceInfo, fix: Fix) -> bool:
    # OsmAnd carries no secret: the token is checked only where the organization demands it.
    return not device.require_token or device.token_ok(fix.token)


async def handle_osmand(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["method"] not in ("GET", "POST"):
        return await respond(send, 405, "method not allowed")
    try:
        body = await read_body(receive, OSMAND_MAX_BODY)
    except BodyTooLarge:
        return await respond(send, 413, "request too large")
    now = dt.datetime.now(dt.UTC)
    is_json = header(scope, b"content-type").startswith("application/json")
    try:
        if is_json:
            fixes = osmand_from_json(json_document(body), now=now)
        else:
            params = query_params(scope.get("query_string", b""))
            if body:
                params.update(query_params(body))
            service = ingest_service()
            device_key = params.get("id") or params.get("deviceid") or ""
            device = await service.directory.lookup(device_key) if device_key else None
            unit = device.speed_unit if device else "kn"
            fixes = [osmand_from_params(params, now=now, speed_unit=unit)]
    except DecodeError as exc:
        return await respond(send, 400, f"bad request: {exc}")
    except Exception:
        logger.exception("ingest lookup failed")
        return await respond(send, 503, "temporarily unavailable, retry")
    try:
        outcomes = await ingest_service().ingest(fixes, authorized=osmand_authorized)
    except Unavailable:
        return await respond(send, 503, "temporarily unavailable, retry")
    if UNKNOWN_DEVICE in outcomes or UNAUTHORIZED in outcomes:
        # One answer for both, so the endpoint does not tell who probes it which ids exist
        # where a token is required (docs/security.md).
        return await respond(send, 404 if is_json else 400, DEVICE_REFUSED)
    # Refused fixes are acknowledged too: the device must not resend them forever; the refusal
    # is recorded for the data-health view.
    return await respond(send, 200, "OK")


async def handle_batch(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["method"] != "POST":
        return await json_error(send, 405, "POST only")
    auth = header(scope, b"authorization")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not token:
        return await json_error(send, 401, "Authorization: Bearer <device token> required")
    try:
        body = await read_body(receive, BATCH_MAX_BODY)
    except BodyTooLarge:
        return await json_error(send, 413, "request body over 4 MiB")
    try:
        document = orjson.loads(body or b"null")
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):  # orjson stops at 1,024 levels; attributes allow far fewer
            return await json_error(send, 400, "JSON nested too deeply")
        return await json_error(send, 400, "malformed JSON")
    raw_fixes = document.get("fixes") if isinstance(document, dict) else None
    if not isinstance(raw_fixes, list):
        return await json_error(send, 400, 'body must be {"fixes": [...]}')
    if len(raw_fixes) > BATCH_MAX_FIXES:
        return await json_error(send, 413, f"at most {BATCH_MAX_FIXES} fixes per request")
    now = dt.datetime.now(dt.UTC)
    digest = token_hash(token)
    results: list[dict[str, Any]] = [{} for _ in raw_fixes]
    decoded: list[tuple[int, Fix]] = []
    for index, raw in enumerate(raw_fixes):
        try:
            decoded.append((index, batch_fix(raw, now=now)))
        except DecodeError as exc:
            results[index] = {"index": index, "status": "invalid", "detail": str(exc)}
    try:
        outcomes = await ingest_service().ingest(
            [fix for _, fix in decoded], authorized=lambda device, fix: device.digest_ok(digest)
        )
    except Unavailable:
        return await json_error(send, 503, "temporarily unavailable, retry")
    for (index, _), outcome in zip(decoded, outcomes, strict=True):
        # A device this token is not for reads like one that does not exist: a token holder
        # must not learn which ids other organizations use.
        status, _, reason = (UNKNOWN_DEVICE if outcome == UNAUTHORIZED else outcome).partition(":")
        results[index] = {
            "index": index,
            "status": status,
            **({"reason": reason} if reason else {}),
        }
    if decoded and all(o in (UNAUTHORIZED, UNKNOWN_DEVICE) for o in outcomes):
        return await json_error(send, 401, "token does not match these devices")
    summary: dict[str, int] = {}
    for result in results:
        summary[result["status"]] = summary.get(result["status"], 0) + 1
    payload = orjson.dumps({"summary": summary, "results": results})
    return await respond(send, 200, payload, b"application/json")


async def json_error(send: Any, status: int, detail: str) -> None:
    """A refusal of the batch API, as a problem like every /api/ error (tenancy/api/errors.py)."""
    body = json.dumps(problem(status, detail))
    await respond(send, status, body, PROBLEM_CONTENT_TYPE.encode())


def with_ingest(django_app: ASGIApp) -> ASGIApp:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path in OSMAND_PATHS:
                return await handle_osmand(scope, receive, send)
            if path in BATCH_PATHS:
                return await handle_batch(scope, receive, send)
        return await django_app(scope, receive, send)

    return app
