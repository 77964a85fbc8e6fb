"""The registry of rule kinds: typed parameters with defaults, per group (telematics,
deliveries, joined). `kind_params(kind, raw)` is what evaluators and forms call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from .base import KindSpec, Mode, params_json, params_parse
from .deliveries import DELIVERIES
from .joined import JOINED
from .telematics import TELEMATICS

KINDS: dict[str, KindSpec] = {spec.kind: spec for spec in (*TELEMATICS, *DELIVERIES, *JOINED)}


def kind_spec(kind: str) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValidationError({"kind": f"Unknown rule kind {kind!r}."}) from None


def kind_params(kind: str, raw: Mapping[str, Any] | None) -> Any:
    """The kind's typed parameters from a rule's JSON (defaults filled in)."""
    return params_parse(kind_spec(kind).params_type, raw)


def kinds_of_mode(mode: Mode) -> set[str]:
    return {kind for kind, spec in KINDS.items() if spec.mode == mode}


__all__ = ["KINDS", "KindSpec", "Mode", "kind_params", "kind_spec", "kinds_of_mode", "params_json"]
