"""The late-risk condition, pure (bench/late_risk.py measures its quality)."""

from __future__ import annotations

import datetime as dt

from alerts.defaults import DEFAULT_RULES
from alerts.evaluation.scheduled import late_risk_holds
from alerts.kinds import kind_params
from alerts.kinds.deliveries import LateRiskParams

END = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def test_the_eta_past_the_window_end_plus_the_margin() -> None:
    params = LateRiskParams(minutes_past_window=5)
    assert not late_risk_holds(params, eta=END + minutes(5), window_end=END, stops_ahead=0)
    assert late_risk_holds(params, eta=END + minutes(5.5), window_end=END, stops_ahead=0)
    early = LateRiskParams(minutes_past_window=-10)
    assert late_risk_holds(early, eta=END - minutes(9), window_end=END, stops_ahead=0)


def test_slack_grows_with_the_stops_ahead() -> None:
    params = LateRiskParams(slack_per_stop_minutes=2)
    eta = END - minutes(5)
    assert not late_risk_holds(params, eta=eta, window_end=END, stops_ahead=2)
    assert late_risk_holds(params, eta=eta, window_end=END, stops_ahead=3)


def test_the_default_rule_flags_exactly_an_eta_past_the_window_end() -> None:
    _, kind, _, raw, _ = next(rule for rule in DEFAULT_RULES if rule[1] == "late_risk")
    params = kind_params(kind, raw)
    assert not late_risk_holds(params, eta=END, window_end=END, stops_ahead=12)
    assert late_risk_holds(params, eta=END + minutes(1), window_end=END, stops_ahead=0)
