"""The order state machine as plain data and one pure check, usable without a database."""

from __future__ import annotations

from collections.abc import Collection

from tenancy.errors import Conflict

from .models.orders import OrderStatus

S = OrderStatus

# from status -> the statuses it may move to. Failed -> assigned is the reattempt. Assigned or
# out for delivery -> created is "unassigned": the order's stop was taken off its route (planned
# or dispatched alike), so it is on no route and waits to be planned again.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.ASSIGNED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.CREATED, S.OUT_FOR_DELIVERY, S.CANCELLED}),
    S.OUT_FOR_DELIVERY: frozenset({S.CREATED, S.ARRIVED, S.CANCELLED}),
    S.ARRIVED: frozenset({S.DELIVERED, S.FAILED, S.CANCELLED}),
    S.FAILED: frozenset({S.ASSIGNED, S.RETURNED_TO_HUB, S.CANCELLED}),
    S.DELIVERED: frozenset(),
    S.RETURNED_TO_HUB: frozenset(),
    S.CANCELLED: frozenset(),
}

OPEN_STATUSES = frozenset(status for status, targets in TRANSITIONS.items() if targets)
# "Final" is about the order: no move leaves these statuses, the order is finished for good.
# `failed` is not final, since a failed order can be re-attempted (failed -> assigned).
FINAL_STATUSES = frozenset(status for status, targets in TRANSITIONS.items() if not targets)
# "Done" is about a stop on a route: its visit is over, whatever came of it. A failed attempt
# closes its stop too, because the re-attempt is a new stop on a route, not the old one reopened.
STOP_DONE_STATUSES = FINAL_STATUSES | {S.FAILED}


class InvalidTransition(Conflict):
    """The order cannot move to the status asked for (or the move lacks what it needs)."""


def transition_check(
    *,
    from_status: str,
    to_status: str,
    reason_code: str | None = None,
    reason_codes: Collection[str] = (),
) -> None:
    """Raise InvalidTransition unless `from_status` -> `to_status` is allowed.

    A move to `failed` needs a `reason_code` from `reason_codes` (the organization's active
    failure reasons); any other move must not carry a reason.
    """
    if to_status not in TRANSITIONS:
        raise InvalidTransition(f"Unknown status {to_status!r}.")
    if to_status not in TRANSITIONS.get(from_status, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(from_status, ()))) or "none, it is final"
        raise InvalidTransition(
            f"An order that is {from_status} cannot become {to_status} (allowed: {allowed})."
        )
    if to_status == S.FAILED:
        if not reason_code:
            raise InvalidTransition("A failed delivery needs a failure reason.")
        if reason_code not in reason_codes:
            raise InvalidTransition(f"Unknown failure reason {reason_code!r}.")
    elif reason_code:
        raise InvalidTransition("Only a failed delivery takes a failure reason.")
