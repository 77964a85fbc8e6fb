"""The state machine as a pure function: every (from, to) pair, no database."""

from __future__ import annotations

import itertools

import pytest

from deliveries.models import OrderStatus as S
from deliveries.transitions import (
    FINAL_STATUSES,
    OPEN_STATUSES,
    STOP_DONE_STATUSES,
    TRANSITIONS,
    InvalidTransition,
    transition_check,
)

ALLOWED = {
    (S.CREATED, S.ASSIGNED),
    (S.CREATED, S.CANCELLED),
    (S.ASSIGNED, S.CREATED),  # unassigned: its stop left the route
    (S.ASSIGNED, S.OUT_FOR_DELIVERY),
    (S.ASSIGNED, S.CANCELLED),
    (S.OUT_FOR_DELIVERY, S.CREATED),  # unassigned from a dispatched route
    (S.OUT_FOR_DELIVERY, S.ARRIVED),
    (S.OUT_FOR_DELIVERY, S.CANCELLED),
    (S.ARRIVED, S.DELIVERED),
    (S.ARRIVED, S.FAILED),
    (S.ARRIVED, S.CANCELLED),
    (S.FAILED, S.ASSIGNED),  # reattempt
    (S.FAILED, S.RETURNED_TO_HUB),
    (S.FAILED, S.CANCELLED),
}
MATRIX = list(itertools.product(S.values, S.values))
REASONS = {"not_home", "refused"}


def reason_for(to_status: str) -> str | None:
    return "not_home" if to_status == S.FAILED else None


def test_the_table_is_the_specification() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert set(TRANSITIONS) == set(S.values)
    assert {S.DELIVERED, S.RETURNED_TO_HUB, S.CANCELLED} == FINAL_STATUSES
    assert {S.CREATED, S.ASSIGNED, S.OUT_FOR_DELIVERY, S.ARRIVED, S.FAILED} == OPEN_STATUSES


@pytest.mark.parametrize(("from_status", "to_status"), MATRIX)
def test_every_pair(from_status: str, to_status: str) -> None:
    kwargs = {"reason_code": reason_for(to_status), "reason_codes": REASONS}
    if (from_status, to_status) in ALLOWED:
        transition_check(from_status=from_status, to_status=to_status, **kwargs)  # type: ignore[arg-type]
    else:
        with pytest.raises(InvalidTransition, match="cannot become"):
            transition_check(from_status=from_status, to_status=to_status, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", sorted(OPEN_STATUSES))
def test_cancel_from_every_open_state(status: str) -> None:
    transition_check(from_status=status, to_status=S.CANCELLED)


def test_failed_needs_a_known_reason() -> None:
    with pytest.raises(InvalidTransition, match="needs a failure reason"):
        transition_check(from_status=S.ARRIVED, to_status=S.FAILED, reason_codes=REASONS)
    with pytest.raises(InvalidTransition, match="Unknown failure reason"):
        transition_check(
            from_status=S.ARRIVED, to_status=S.FAILED, reason_code="lost", reason_codes=REASONS
        )


def test_only_failed_takes_a_reason() -> None:
    with pytest.raises(InvalidTransition, match="Only a failed delivery"):
        transition_check(
            from_status=S.ARRIVED,
            to_status=S.DELIVERED,
            reason_code="refused",
            reason_codes=REASONS,
        )


def test_unknown_status() -> None:
    with pytest.raises(InvalidTransition, match="Unknown status"):
        transition_check(from_status=S.CREATED, to_status="teleported")


def test_final_means_no_way_out_and_failed_is_not_final() -> None:
    # A failed order is re-attempted (failed -> assigned), so it is not finished for good.
    assert {S.DELIVERED, S.RETURNED_TO_HUB, S.CANCELLED} == FINAL_STATUSES
    assert S.FAILED in OPEN_STATUSES


def test_a_failed_attempt_closes_its_stop() -> None:
    # The re-attempt is a new stop, so for the route the failed visit is over.
    assert FINAL_STATUSES | {S.FAILED} == STOP_DONE_STATUSES


def test_every_done_set_is_the_one_of_transitions() -> None:
    # The driver actions once spelled their own copy; now every user imports the owner's.
    from deliveries.selectors import routes, tracking
    from deliveries.services import driver_actions
    from deliveries.views import driver

    assert not hasattr(driver_actions, "DONE_STATUSES")
    assert routes.STOP_DONE_STATUSES is STOP_DONE_STATUSES
    assert tracking.STOP_DONE_STATUSES is STOP_DONE_STATUSES
    assert driver.STOP_DONE_STATUSES is STOP_DONE_STATUSES
