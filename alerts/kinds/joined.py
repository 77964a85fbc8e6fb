"""Kinds that join order state with telematics."""

from __future__ import annotations

from dataclasses import dataclass

from .base import KindSpec, Mode, bounded


@dataclass(frozen=True)
class PodFarParams:
    distance_m: float = bounded(
        300, low=20, high=50000, help="Phone and vehicle both farther than this."
    )
    around_minutes: float = bounded(3, low=0, high=60, help="Vehicle positions this close in time.")


@dataclass(frozen=True)
class FailedWithoutVisitParams:
    distance_m: float = bounded(200, low=20, high=50000)
    lookback_minutes: float = bounded(60, low=5, high=24 * 60)


@dataclass(frozen=True)
class ArrivedNotNearParams:
    distance_m: float = bounded(200, low=20, high=50000)
    around_minutes: float = bounded(5, low=0, high=60)


@dataclass(frozen=True)
class IdleWhileLateRiskParams:
    idle_minutes: float = bounded(5, low=1, high=600)


JOINED = [
    KindSpec("pod_far_from_address", "Delivered or failed far from the address", "joined", Mode.EVENT,
             "order", PodFarParams,
             "Both the phone's geo-stamp and the vehicle's positions around then are far from the address."),
    KindSpec("failed_without_visit", "Failed with no stop near the address", "joined", Mode.EVENT,
             "order", FailedWithoutVisitParams,
             "Marked failed, but the vehicle never came near the address in the lookback."),
    KindSpec("arrived_not_near", "Marked arrived, vehicle never near", "joined", Mode.EVENT, "stop",
             ArrivedNotNearParams, "A stop marked arrived with no vehicle position near it around then."),
    KindSpec("idle_while_late_risk", "Driver idle while next stop is at late risk", "joined",
             Mode.SWEEP, "route", IdleWhileLateRiskParams,
             "The route's vehicle stands still for N minutes while its next stop is at late risk."),
]  # fmt: skip
