"""Who wants which events. Apps register in their AppConfig.ready, so every process (web,
worker, beat) knows the same subscribers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import OutboxEvent

Handler = Callable[["OutboxEvent"], None]


@dataclass(frozen=True)
class Subscriber:
    name: str
    kinds: frozenset[str]
    handler: Handler
    # False: the handler writes nothing to the database (it only registers on-commit work),
    # so the relay runs it without a savepoint of its own (two round trips per event saved).
    writes: bool = True

    def wants(self, kind: str) -> bool:
        return kind in self.kinds


_subscribers: dict[str, Subscriber] = {}


def outbox_subscribe(
    name: str, kinds: Iterable[str], handler: Handler, *, writes: bool = True
) -> Subscriber:
    """Register `handler` for events of `kinds` under a stable `name` (the delivery rows carry
    it, so renaming a subscriber makes it see every pending event again).

    The handler runs inside the relay's transaction and tenant context: it must be idempotent
    (it may see an event twice) and quick (database writes; enqueue slow work on commit,
    never call out over the network). `writes=False` declares a handler that only reads and
    registers on-commit work: it runs without a savepoint (a failure of it still leaves the
    event pending for a retry, and its delivery row records the error)."""
    subscriber = Subscriber(name=name, kinds=frozenset(kinds), handler=handler, writes=writes)
    _subscribers[name] = subscriber
    return subscriber


def outbox_unsubscribe(name: str) -> None:
    _subscribers.pop(name, None)


def outbox_subscribers(kind: str | None = None) -> list[Subscriber]:
    """Every subscriber, or those that want `kind`, in name order."""
    return [s for _, s in sorted(_subscribers.items()) if kind is None or s.wants(kind)]
