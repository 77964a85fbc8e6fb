"""The slice of the operation a KPI, dashboard or report covers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class KpiFilters:
    """A period of local days in the organization's time zone (`start` and `end` both
    included) and, optionally, the hubs, zones, vehicles and drivers to keep (empty: all)."""

    start: dt.date
    end: dt.date
    hub_ids: tuple[int, ...] = ()
    zone_ids: tuple[int, ...] = ()
    vehicle_ids: tuple[int, ...] = ()
    driver_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the period ends before it starts")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> KpiFilters:
        """The period of the same length just before this one, with the same filters: the
        "change against the previous period" of every tile."""
        length = dt.timedelta(days=self.days)
        return KpiFilters(
            start=self.start - length,
            end=self.end - length,
            hub_ids=self.hub_ids,
            zone_ids=self.zone_ids,
            vehicle_ids=self.vehicle_ids,
            driver_ids=self.driver_ids,
        )
