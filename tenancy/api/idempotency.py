"""Idempotency receipts: a client action sent with an `Idempotency-Key` is applied once; a retry
with the same key gets the stored answer (same status, same body) and applies nothing again.
This is what makes an offline queue (the driver app's) safe to retry after a lost answer.

The receipt stores an HTTP answer because a replay must be that answer: refusals are mapped by
the one mapping (tenancy/api/errors.py), so the service behind `run` only raises domain errors.
Each app keeps its receipts in its own tenant table (a `ReceiptStore`).

Receipts are kept for a retention, then pruned: every receipt table registers its pruner here
(`receipt_pruner_register`) with its retention, and one beat task (`tenancy.receipts_prune`,
hourly) prunes every organization's receipts of every table (docs/api.md, "Idempotency"). The
API's `Idempotency-Key` receipts (tenancy/api/receipts.py) keep 24 hours; the driver app's
action receipts (deliveries/services/driver_actions.py) keep 7 days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connection, transaction
from django.utils import timezone

from ..context import require_organization
from ..errors import Conflict, InvalidInput
from .errors import REFUSALS, error_answer

KEY_MAX_LENGTH = 64


@dataclass(frozen=True)
class IdempotentAnswer:
    status: int
    body: dict[str, Any]
    # True when this is a stored answer given again for a repeated key.
    replayed: bool = False


@dataclass(frozen=True)
class StoredReceipt:
    user_id: int | None
    status: int
    body: dict[str, Any]


class ReceiptStore(Protocol):
    def receipt_get(self, *, key: str) -> StoredReceipt | None: ...

    def receipt_save(
        self, *, key: str, user_id: int, status: int, body: dict[str, Any]
    ) -> None: ...


def idempotency_key_check(key: str | None) -> str:
    key = (key or "").strip()
    if not key or len(key) > KEY_MAX_LENGTH:
        raise InvalidInput(f"An Idempotency-Key header (up to {KEY_MAX_LENGTH} chars) is needed.")
    return key


def idempotent_answer(
    *,
    organization_id: int,
    user_id: int,
    key: str,
    store: ReceiptStore,
    run: Callable[[], dict[str, Any]],
    lock_namespace: str = "action",
) -> IdempotentAnswer:
    """`run()` once per key: its body with 200, or its refusal's answer; both are stored.

    Two requests with the same key at the same time are serialized by a transaction-level
    advisory lock on the key, so the second waits for the first and replays its receipt (the
    store's unique key is the backstop). `run` executes in a savepoint: a refused action leaves
    nothing behind but its receipt. Raises InvalidInput for a missing key and Conflict for a key
    another user already used (neither is stored).
    """
    key = idempotency_key_check(key)
    require_organization(organization_id)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"{lock_namespace}:{organization_id}:{key}"],
            )
        receipt = store.receipt_get(key=key)
        if receipt is not None:
            if receipt.user_id != user_id:
                # Keys are random UUIDs; a clash across users is a client bug, never shared.
                raise Conflict("This Idempotency-Key was used by somebody else.")
            return IdempotentAnswer(receipt.status, receipt.body, replayed=True)
        try:
            with transaction.atomic():
                answer = IdempotentAnswer(200, run())
        except REFUSALS as exc:
            status, body = error_answer(exc) or (400, {"detail": str(exc)})
            answer = IdempotentAnswer(status, body)
        store.receipt_save(key=key, user_id=user_id, status=answer.status, body=answer.body)
    return answer


# --- pruning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptPruner:
    """Deletes one organization's receipts created before a cutoff; returns how many."""

    retention: dt.timedelta
    prune: Callable[[int, dt.datetime], int]


_pruners: dict[str, ReceiptPruner] = {}


def receipt_pruner_register(
    name: str, *, retention: dt.timedelta, prune: Callable[[int, dt.datetime], int]
) -> None:
    """Register a receipt table's pruner (an app's ready(), or the module of its store)."""
    _pruners[name] = ReceiptPruner(retention, prune)


def receipts_prune(*, organization_id: int, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete the organization's receipts past their table's retention: name -> rows deleted.
    Runs inside the organization's context (the tenant task enters it)."""
    require_organization(organization_id)
    now = now or timezone.now()
    return {
        name: pruner.prune(organization_id, now - pruner.retention)
        for name, pruner in sorted(_pruners.items())
    }
