"""The episode machine: minimum duration, flapping, peak, end."""

from __future__ import annotations

from collections.abc import Sequence

from alerts.evaluation.episode import Action, episode_step


def run(
    samples: Sequence[tuple[float, bool, float | None]], hold: float
) -> list[tuple[float, Action]]:
    state = None
    actions = []
    for at, holds, value in samples:
        step = episode_step(state, at=at, holds=holds, value=value, hold_seconds=hold)
        state = step.state
        if step.action is Action.TRY_OPEN and state is not None:
            state = {**state, "o": True}
        if step.action:
            actions.append((at, step.action))
    return actions


def test_opens_after_the_hold_and_resolves_when_cleared() -> None:
    samples = [(t, True, 100.0 + t) for t in range(0, 40, 10)] + [(40, False, None)]
    assert run(samples, hold=20) == [
        (20, Action.TRY_OPEN), (30, Action.UPDATE), (40, Action.RESOLVE),
    ]  # fmt: skip


def test_flapping_faster_than_the_hold_never_opens() -> None:
    samples = [(t, (t // 10) % 2 == 0, 1.0) for t in range(0, 600, 5)]
    assert run(samples, hold=15) == []


def test_peak_is_kept_and_lower_values_do_not_update() -> None:
    state = None
    for at, value in [(0, 5.0), (10, 9.0), (20, 7.0)]:
        step = episode_step(state, at=at, holds=True, value=value, hold_seconds=0)
        state = {**step.state, "o": True} if step.state else None
    assert state is not None and state["p"] == 9.0
    assert episode_step(state, at=30, holds=True, value=8.0, hold_seconds=0).action is None
