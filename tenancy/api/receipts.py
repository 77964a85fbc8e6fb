"""`Idempotency-Key` on every POST of the API (the views' base, tenancy/api/views.py).

The first request with a key runs and its answer (status, body, Location) is stored as an
`IdempotencyReceipt`; a retry with the same key and the same body gets that answer again with
`Idempotent-Replayed: true` and changes nothing; the same key with another body (or path) is a
422. Two requests with one key at the same time are serialized by a session advisory lock on the
key: the second waits for the first and replays its receipt, so the action runs once.
Server errors (5xx) and rate-limit answers are not stored: a retry of those must run again.
Receipts older than `RECEIPT_TTL` no longer count (the key may be used afresh), and the hourly
`tenancy.receipts_prune` deletes them (tenancy/api/idempotency.py, the one pruning of receipts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from ..context import require_organization
from ..errors import InvalidInput
from .errors import PROBLEM_CONTENT_TYPE, problem
from .idempotency import receipt_pruner_register
from .models import ApiToken, IdempotencyReceipt

HEADER = "Idempotency-Key"
KEY_MAX_LENGTH = 64
RECEIPT_TTL = dt.timedelta(hours=24)
LOCK_NAMESPACE = "api-idempotency"
# Answers a retry must not get again: they say nothing about the action.
NOT_STORED = {401, 403, 429}


class IdempotentReplay(Exception):  # control flow, not an error
    """Raised in the view's `initial` to answer with a stored (or refused) answer instead."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent replay")
        self.response = response


def credential_of(request: Request) -> str:
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    return f"user:{request.user.pk}"


def fingerprint_of(request: Request) -> str:
    """The request as the key promises it: method, path and body (JSON compared as data, so
    whitespace or member order do not make a retry "another body")."""
    raw = request._request.body
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        body = raw
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def storable(data: Any) -> Any:
    """The answer as jsonb can hold it: an error may quote the client's input, and jsonb has
    no NUL character (U+0000), so it becomes U+FFFD in the stored copy."""
    text = json.dumps(data, cls=DjangoJSONEncoder)
    return json.loads(text.replace("\\u0000", "\\ufffd"))


def redacted(body: Any, names: tuple[str, ...]) -> Any:
    """The body with its `names` members set to null (a secret the receipt must not keep)."""
    if not names or not isinstance(body, dict):
        return body
    return {name: None if name in names else value for name, value in body.items()}


class IdempotencyGuard:
    """One POST's key: `begin` before the handler, `finish` after it, `release` always."""

    def __init__(self, *, organization_id: int, request: Request) -> None:
        require_organization(organization_id)
        key = (request.headers.get(HEADER) or "").strip()
        if not key or len(key) > KEY_MAX_LENGTH:
            raise InvalidInput(f"The {HEADER} header must be 1 to {KEY_MAX_LENGTH} characters.")
        self.organization_id = organization_id
        self.key = key
        self.credential = credential_of(request)
        self.fingerprint = fingerprint_of(request)
        self.locked = False
        self.replayed = False

    def _lock_sql(self, function: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {function}(hashtextextended(%s, 0))",  # a constant
                [f"{LOCK_NAMESPACE}:{self.organization_id}:{self.credential}:{self.key}"],
            )

    def begin(self) -> None:
        """Wait for any request holding the key, then replay its receipt if it has one."""
        self._lock_sql("pg_advisory_lock")
        self.locked = True
        receipt = (
            IdempotencyReceipt.objects.filter(
                organization_id=self.organization_id, credential=self.credential, key=self.key
            )
            .filter(created_at__gte=timezone.now() - RECEIPT_TTL)
            .first()
        )
        if receipt is None:
            return
        self.replayed = True
        if receipt.fingerprint != self.fingerprint:
            body = problem(422, f"This {HEADER} was used with another request.")
            raise IdempotentReplay(Response(body, status=422, content_type=PROBLEM_CONTENT_TYPE))
        headers = {"Idempotent-Replayed": "true"}
        if receipt.location:
            headers["Location"] = receipt.location
        content_type = PROBLEM_CONTENT_TYPE if receipt.status >= 400 else None
        raise IdempotentReplay(
            Response(
                receipt.body, status=receipt.status, headers=headers, content_type=content_type
            )
        )

    def finish(self, response: Any, *, redact: tuple[str, ...] = ()) -> None:
        """Store the first answer (not a replay, not a 5xx or a refusal of the credentials);
        the `redact` members of a success are stored as null (secrets shown once)."""
        if self.replayed or response.status_code >= 500 or response.status_code in NOT_STORED:
            return
        with transaction.atomic():
            IdempotencyReceipt.objects.filter(
                organization_id=self.organization_id, credential=self.credential, key=self.key
            ).delete()  # an expired receipt of the same key
            IdempotencyReceipt.objects.create(
                organization_id=self.organization_id,
                credential=self.credential,
                key=self.key,
                fingerprint=self.fingerprint,
                status=response.status_code,
                body=redacted(storable(getattr(response, "data", None)), redact),
                location=str(response.get("Location", ""))[:255],
            )

    def release(self) -> None:
        if self.locked:
            self.locked = False
            self._lock_sql("pg_advisory_unlock")


def api_receipts_prune(organization_id: int, before: dt.datetime) -> int:
    """Delete the organization's API receipts created before `before`; how many."""
    require_organization(organization_id)
    old = IdempotencyReceipt.objects.filter(organization_id=organization_id, created_at__lt=before)
    deleted, _ = old.delete()
    return deleted


receipt_pruner_register("api", retention=RECEIPT_TTL, prune=api_receipts_prune)
