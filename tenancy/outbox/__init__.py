"""Domain events on commit (docs/outbox.md).

A service writes its change and its events in one transaction (`outbox_emit`); after the
commit a relay task hands each event to every subscriber of its kind (`outbox_subscribe`), at
least once, recording one delivery row per (event, subscriber). A lost relay message (broker
down, worker killed) costs a delay, never an event: a beat sweep finds organizations with
pending events and relays them.
"""

from .registry import Subscriber, outbox_subscribe, outbox_subscribers
from .services import outbox_emit, outbox_emit_many

__all__ = [
    "Subscriber",
    "outbox_emit",
    "outbox_emit_many",
    "outbox_subscribe",
    "outbox_subscribers",
]
