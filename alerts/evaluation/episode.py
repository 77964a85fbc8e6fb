"""The episode machine every kind shares, as a pure function of plain values.

A condition that starts to hold begins a *pending* episode; it opens an alert only once it has
held for the hold time (the kind's N seconds, at least the rule's minimum duration), so a
condition that flaps on and off faster than that never alerts. While open, the peak is
tracked; when the condition stops holding (the kinds apply their hysteresis: a clear threshold
past the open threshold), the episode resolves. The state is a small JSON-safe dict, stored per
rule in EvaluationState, so a restarted worker carries on where the last one committed.

State keys: s = since (epoch s), o = open, p = peak, d = details, b = may not open before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

EpisodeState = dict[str, Any]


class Action(StrEnum):
    TRY_OPEN = "try_open"  # held long enough: open unless the gate says no
    UPDATE = "update"  # open, and the peak moved
    RESOLVE = "resolve"  # open, and the condition cleared


@dataclass
class Step:
    state: EpisodeState | None
    action: Action | None = None
    ended: EpisodeState | None = field(default=None)  # the state that resolved


def episode_step(
    state: EpisodeState | None,
    *,
    at: float,
    holds: bool,
    value: float | None = None,
    details: dict[str, Any] | None = None,
    hold_seconds: float,
    peak_is_max: bool = True,
) -> Step:
    if not holds:
        if state is not None and state.get("o"):
            return Step(None, Action.RESOLVE, ended=state)
        return Step(None)  # a pending episode that did not last: forgotten, never alerted
    state = {"s": at, "o": False, "p": value, "d": details or {}} if state is None else dict(state)
    moved = False
    if value is not None:
        peak = state.get("p")
        if peak is None or (value > peak if peak_is_max else value < peak):
            state["p"] = value
            state["d"] = details or state.get("d") or {}
            moved = True
    if not state.get("o"):
        if at - state["s"] >= hold_seconds and at >= state.get("b", float("-inf")):
            return Step(state, Action.TRY_OPEN)
        return Step(state)
    return Step(state, Action.UPDATE if moved else None)


def episode_opened(state: EpisodeState) -> EpisodeState:
    return {**state, "o": True}


def episode_blocked(state: EpisodeState, until: float) -> EpisodeState:
    """The gate refused (outside active hours, in cooldown): retry no sooner than `until`."""
    return {**state, "b": until}
