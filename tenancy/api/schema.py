"""The OpenAPI schema tells every status code an operation can answer (drf-spectacular
postprocessing hook, `SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]`).

The answers the API-wide plumbing gives (tenancy/api/: authentication, scopes, the middleware's
rate limit, content negotiation, strict input, idempotency, ETag) are the same for every
operation, so they are documented here once instead of in each view; a view documents only its
own (201, 409 of a duplicate, ...). Every error response is a `Problem` in
`application/problem+json`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

from .errors import PROBLEM_CONTENT_TYPE, PROBLEM_KINDS
from .permissions import required_roles, required_scope

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details: the body of every error answer.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string", "description": "The kind's fixed summary."},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "This occurrence, for people."},
        "errors": {
            "type": "array",
            "description": "Every invalid body member (`pointer`) or query parameter.",
            "items": {
                "type": "object",
                "required": ["detail", "code"],
                "properties": {
                    "pointer": {"type": "string", "description": "RFC 6901 JSON pointer."},
                    "parameter": {"type": "string", "description": "The query parameter."},
                    "detail": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
    },
    # A problem may carry its own facts (e.g. a 409's existing `id`).
    "additionalProperties": True,
}

WHY: dict[int, str] = {
    400: "Invalid input: `errors` names every bad field (`pointer`) or query parameter.",
    401: "No credentials, or an invalid or inactive token.",
    403: "The credentials may not do this (a token's scopes, a console role, a hub scope).",
    404: "No such resource in your organization.",
    406: "The Accept header asks for a representation other than JSON.",
    409: "The resource's state does not allow this (or the reference exists: see `id`).",
    415: "The body is not JSON (send `Content-Type: application/json`).",
    422: "This Idempotency-Key was used with another request body.",
    429: "Too many requests (per token, per client address, or bad tokens): wait `Retry-After`.",
    500: "A fault on our side; the body is a problem too.",
}
RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 1},
}
ETAG = {
    "description": "The representation's version, for `If-None-Match`.",
    "schema": {"type": "string"},
}
HTTP_METHODS = ("get", "put", "post", "patch", "delete")


def _problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or WHY.get(status) or PROBLEM_KINDS[status][1],
        "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_REF}},
    }
    if status == 429:
        response["headers"] = {"Retry-After": RETRY_AFTER}
    return response


def _statuses(method: str, operation: dict[str, Any], path: str) -> set[int]:
    statuses = {401, 403, 406, 429, 500}
    params = operation.get("parameters", [])
    if "{" in path:
        statuses.add(404)
    if operation.get("requestBody") or any(p.get("in") == "query" for p in params):
        statuses.add(400)
    if operation.get("requestBody"):
        statuses.add(415)
    if method == "post":
        statuses.add(422)  # the Idempotency-Key every POST takes
    return statuses


def _header_parameter(
    operation: dict[str, Any], name: str, description: str, schema: dict[str, Any]
) -> None:
    params = operation.setdefault("parameters", [])
    if not any(p.get("name") == name for p in params):
        params.append(
            {
                "name": name,
                "in": "header",
                "required": False,
                "description": description,
                "schema": schema,
            }
        )


# An action that takes nothing (EmptyInputSerializer, which drf-spectacular leaves out): `{}` or
# no body; any member is refused by name.
EMPTY_BODY: dict[str, Any] = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {"type": "object", "additionalProperties": False, "maxProperties": 0}
        }
    },
}


def _document_operation(method: str, path: str, operation: dict[str, Any]) -> None:
    if method == "post" and "requestBody" not in operation:
        operation["requestBody"] = EMPTY_BODY
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in _statuses(method, operation, path):
        responses.setdefault(str(status), _problem_response(status))
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            # A view's own error (documented as text or with its old shape) is a problem too.
            description = response.get("description") or None
            responses[code] = {
                **_problem_response(int(code), description),
                **{key: value for key, value in response.items() if key == "headers"},
            }
    if method == "get" and "200" in responses:
        responses["200"].setdefault("headers", {})["ETag"] = ETAG
        responses.setdefault("304", {"description": "Not modified (the `If-None-Match` ETag)."})
        _header_parameter(
            operation,
            "If-None-Match",
            "An ETag from an earlier answer: 304 when unchanged.",
            {"type": "string"},
        )
    if method == "post":
        _header_parameter(
            operation,
            "Idempotency-Key",
            "A unique key (e.g. a UUID, at most 64 characters) that makes the POST safe to "
            "retry: a repeat with the same body gets the first answer again "
            "(`Idempotent-Replayed: true`), with another body a 422.",
            {"type": "string", "minLength": 1, "maxLength": 64},
        )


FIX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["device_id", "lat", "lon"],
    "properties": {
        "device_id": {"type": "string", "minLength": 1, "description": "The device's unique id."},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
        "timestamp": {
            "type": "string",
            "description": "ISO 8601 with a time zone, or Unix seconds; default: received.",
        },
        "speed_kmh": {"type": "number", "minimum": 0},
        "heading": {"type": "number", "minimum": 0, "maximum": 360},
        "accuracy_m": {"type": "number", "minimum": 0},
        "altitude_m": {"type": "number"},
        "odometer_m": {"type": "number", "minimum": 0},
        "battery_pct": {"type": "number", "minimum": 0, "maximum": 100},
        "ignition": {"type": "boolean"},
        "attributes": {"type": "object", "additionalProperties": True},
    },
}
# POST /api/v1/positions/batch/ is served by the ingest path (fleet/ingest/asgi.py, outside
# Django and DRF for speed), so no view describes it: it is described here.
POSITIONS_BATCH: dict[str, Any] = {
    "post": {
        "operationId": "positions_batch",
        "summary": "Send a device's GPS fixes",
        "description": (
            "Up to 10,000 fixes (4 MiB) per request, authenticated with a **device token** "
            "(`Authorization: Bearer <device token>`, the token shown once when the device was "
            "created or its token rotated), not an API token. Each fix gets its own result: a "
            "bad fix never fails its neighbours; a fix answered `stored` or `duplicate` is "
            "stored exactly once, so resend the whole batch after a 503."
        ),
        "tags": ["positions"],
        "security": [{"deviceToken": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["fixes"],
                        "properties": {
                            "fixes": {"type": "array", "maxItems": 10000, "items": FIX_SCHEMA}
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "One result per fix, in order, and a count per status.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["summary", "results"],
                            "properties": {
                                "summary": {
                                    "type": "object",
                                    "additionalProperties": {"type": "integer"},
                                },
                                "results": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["index", "status"],
                                        "properties": {
                                            "index": {"type": "integer"},
                                            "status": {"type": "string"},
                                            "reason": {"type": "string"},
                                            "detail": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        }
                    }
                },
            },
            "400": _problem_response(400, 'Not JSON, or not {"fixes": [...]}.'),
            "401": _problem_response(401, "No device token, or not the token of these devices."),
            "405": _problem_response(405, "POST only."),
            "413": _problem_response(413, "Over 4 MiB or over 10,000 fixes."),
            "503": {
                **_problem_response(503, "Storage unavailable: retry after `Retry-After`."),
                "headers": {"Retry-After": RETRY_AFTER},
            },
        },
    }
}
DEVICE_TOKEN_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "A device's own token (fleet devices: shown once on creation or rotation). It opens "
        "only POST /api/v1/positions/batch/ for that device's fixes; it is not an API token."
    ),
}


def _close_object(schemas: dict[str, Any], ref: str) -> None:
    """The component `ref` names says `additionalProperties: false`, and so do the objects
    its members are or may be (a zone Feature's `geometry` and `properties`). Not the items of its
    arrays: a batch judges each item on its own and answers 207, not a 400."""
    name = ref.rsplit("/", 1)[-1]
    schema = schemas.get(name)
    if schema is None:
        return
    for choice in schema.get("oneOf", []):  # one of several shapes (a zone's geometry)
        _close_object(schemas, choice.get("$ref", ""))
    if schema.get("type") != "object" or "additionalProperties" in schema:
        return
    schema["additionalProperties"] = False
    for member in schema.get("properties", {}).values():
        for part in [member, *member.get("allOf", [])]:
            if "$ref" in part:
                _close_object(schemas, part["$ref"])


def _closed_request_bodies(result: dict[str, Any]) -> None:
    """Request bodies take only their documented members (StrictInputSerializer refuses the
    rest by name), so their schemas say `additionalProperties: false`."""
    schemas = result.get("components", {}).get("schemas", {})
    for item in result.get("paths", {}).values():
        for method in HTTP_METHODS:
            content = item.get(method, {}).get("requestBody", {}).get("content", {})
            for media in content.values():
                _close_object(schemas, media.get("schema", {}).get("$ref", ""))


def problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The hook: the Problem component and the plumbing's answers on every /api/ operation,
    and the positions batch operation of the ingest path."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components.setdefault("securitySchemes", {})["deviceToken"] = DEVICE_TOKEN_SCHEME
    result.setdefault("paths", {})["/api/v1/positions/batch/"] = POSITIONS_BATCH
    _closed_request_bodies(result)
    for path, item in result.get("paths", {}).items():
        if not path.startswith("/api/v1/") or item is POSITIONS_BATCH:
            continue
        for method in HTTP_METHODS:
            if method in item:
                _document_operation(method, path, item[method])
    return result


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema of a view, with the token scope each operation needs (after any
    description a view gives with extend_schema)."""

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation:
            note = f"Token scope: `{required_scope(self.view, self.method)}`."
            roles = required_roles(self.view, self.method)
            if roles is not None:
                note += f" Console roles: {', '.join(roles)}."
            description = str(operation.get("description") or "").strip()
            operation["description"] = f"{description}\n\n{note}" if description else note
        return operation
