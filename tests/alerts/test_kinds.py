"""The kinds registry: typed parameters with defaults, precise errors for bad ones."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from alerts.kinds import KINDS, kind_params, params_json
from alerts.models import RuleKind


def test_every_model_kind_has_a_spec_with_defaults() -> None:
    assert set(KINDS) == set(RuleKind.values)
    for kind in KINDS:
        params = kind_params(kind, {})
        assert params_json(params) == params_json(kind_params(kind, params_json(params)))


def test_values_fill_in_and_convert() -> None:
    params = kind_params("speeding", {"limit_kmh": 50, "zone_limits": {"12": 30}})
    assert params.limit_kmh == 50.0
    assert params.zone_limits == {"12": 30.0}
    assert params.min_seconds == 20


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"limit_kmh": 5}, "limit_kmh", "at least 10"),
        ({"limit_kmh": "fast"}, "limit_kmh", "number"),
        ({"limit_kmh": True}, "limit_kmh", "number"),
        ({"use_zone_limit": "yes"}, "use_zone_limit", "true or false"),
        ({"zone_limits": {"abc": 30}}, "zone_limits", "id"),
        ({"speed": 30}, "speed", "Unknown"),
    ],
)
def test_bad_values_are_refused_by_name(raw: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        kind_params("speeding", raw)
    assert message in " ".join(error.value.message_dict[field])


def test_unknown_kind_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        kind_params("teleport", {})
