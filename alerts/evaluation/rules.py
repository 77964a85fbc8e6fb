"""An organization's enabled rules in evaluation-ready form, loaded once per task and kept per
worker process until a rule, zone, hub, holiday or the time zone changes (one cheap signature
query tells; compiling 200 zones into an STRtree is what the cache saves)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection

from alerts.kinds import KINDS, Mode, kind_params
from alerts.models import AlertRule, Holiday
from fleet.models import Hub, Zone
from tenancy.context import require_organization
from tenancy.models import Organization

from .calendar import ActiveHours, active_hours_build
from .geometry import projection_around, zone_index_build
from .stream import OrgGeometry, StreamRule, stream_rule_compile

logger = logging.getLogger(__name__)


@dataclass
class LoadedRule:
    rule: AlertRule
    params: Any
    hours: ActiveHours
    stream: StreamRule | None = None

    @property
    def id(self) -> int:
        return int(self.rule.pk)

    def applies_to(
        self, *, hub_id: int | None, vehicle_id: int | None = None,
        tags: Collection[str] = (), route_id: int | None = None,
    ) -> bool:  # fmt: skip
        return scope_matches(
            self.rule, hub_id=hub_id, vehicle_id=vehicle_id, tags=tags, route_id=route_id
        )


def scope_matches(
    rule: AlertRule, *, hub_id: int | None, vehicle_id: int | None = None,
    tags: Collection[str] = (), route_id: int | None = None,
) -> bool:  # fmt: skip
    """Whether a subject with these facts is in the rule's scope (zones are applied by the
    evaluators, per fix or per location)."""
    kind = rule.scope_kind
    if kind == AlertRule.ScopeKind.HUBS:
        return hub_id is not None and hub_id in rule.scope_hub_ids
    if kind == AlertRule.ScopeKind.VEHICLES:
        return vehicle_id is not None and vehicle_id in rule.scope_vehicle_ids
    if kind == AlertRule.ScopeKind.TAGS:
        return bool(set(tags) & set(rule.scope_tags))
    if kind == AlertRule.ScopeKind.ROUTES:
        return route_id is not None and route_id in rule.scope_route_ids
    return True  # ALL, and ZONES (decided where the location is known)


@dataclass
class OrgRules:
    organization_id: int
    time_zone: str
    rules: list[LoadedRule]
    geometry: OrgGeometry
    hubs: dict[int, tuple[float, float]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[LoadedRule]:
        return [r for r in self.rules if r.rule.kind == kind]

    @property
    def streamed(self) -> list[LoadedRule]:
        return [r for r in self.rules if r.stream is not None]

    def by_id(self) -> dict[int, LoadedRule]:
        return {r.id: r for r in self.rules}

    def local_today(self, now: dt.datetime) -> dt.date:
        import zoneinfo

        return now.astimezone(zoneinfo.ZoneInfo(self.time_zone)).date()


_cache: dict[int, tuple[str, OrgRules]] = {}

_SIGNATURE_SQL = """
SELECT concat_ws('|',
  (SELECT timezone FROM tenancy_organization WHERE id = %(org)s),
  (SELECT md5(coalesce(string_agg(id::text || ':' || updated_at::text, ',' ORDER BY id), ''))
     FROM alerts_alertrule WHERE organization_id = %(org)s),
  (SELECT md5(coalesce(string_agg(id::text || kind || coalesce(hub_id, 0)::text
                                  || md5(geometry::text), ',' ORDER BY id), ''))
     FROM fleet_zone WHERE organization_id = %(org)s),
  (SELECT md5(coalesce(string_agg(id::text || latitude::text || longitude::text, ','
                                  ORDER BY id), ''))
     FROM fleet_hub WHERE organization_id = %(org)s),
  (SELECT md5(coalesce(string_agg(date::text, ',' ORDER BY date), ''))
     FROM alerts_holiday WHERE organization_id = %(org)s))
"""


def _signature(organization_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(_SIGNATURE_SQL, {"org": organization_id})
        return str(cursor.fetchone()[0])


def org_rules_load(organization_id: int, *, use_cache: bool = True) -> OrgRules:
    require_organization(organization_id)
    signature = _signature(organization_id)
    cached = _cache.get(organization_id)
    if use_cache and cached and cached[0] == signature:
        return cached[1]
    loaded = _org_rules_build(organization_id)
    _cache[organization_id] = (signature, loaded)
    return loaded


def org_rules_cache_clear() -> None:
    _cache.clear()


def _org_rules_build(organization_id: int) -> OrgRules:
    time_zone = Organization.objects.filter(pk=organization_id).values_list("timezone", flat=True)
    tz = time_zone.first() or "UTC"
    holidays = list(
        Holiday.objects.filter(organization_id=organization_id).values_list("date", flat=True)
    )
    hubs = {
        pk: (lat, lon)
        for pk, lat, lon in Hub.objects.filter(organization_id=organization_id).values_list(
            "pk", "latitude", "longitude"
        )
    }
    zones = list(
        Zone.objects.filter(organization_id=organization_id).values_list(
            "pk", "kind", "geometry", "hub_id", "name"
        )
    )
    projection = projection_around(hubs.values() or _zone_centres(zones))
    geometry = OrgGeometry(
        projection=projection,
        zones=zone_index_build(projection, [(z[0], z[1], z[2]) for z in zones]),
        zone_hubs={z[0]: z[3] for z in zones},
        zone_names={z[0]: z[4] for z in zones},
    )
    rules = []
    for rule in AlertRule.objects.filter(organization_id=organization_id, enabled=True):
        try:
            params = kind_params(rule.kind, rule.params)
            hours = active_hours_build(
                rule.active_hours, time_zone=tz, holidays=holidays, holidays_off=rule.holidays_off
            )
        except ValidationError:
            # The admin form validates; a rule broken behind its back is skipped, not fatal.
            logger.warning("alerts: rule %s has invalid settings, skipped", rule.pk)
            continue
        loaded = LoadedRule(rule=rule, params=params, hours=hours)
        if KINDS[rule.kind].mode == Mode.STREAM:
            loaded.stream = stream_rule_compile(
                rule_id=rule.pk, kind=rule.kind, params=params,
                min_duration_seconds=rule.min_duration_seconds,
                scope_zone_ids=rule.scope_zone_ids if rule.scope_kind == "zones" else (),
            )  # fmt: skip
        rules.append(loaded)
    return OrgRules(organization_id, tz, rules, geometry, hubs)


def _zone_centres(zones: list[tuple[Any, ...]]) -> list[tuple[float, float]]:
    centres = []
    for zone in zones:
        try:
            geometry = zone[2]
            rings = geometry["coordinates"]
            # A MultiPolygon's first polygon stands for it: the centre only picks a projection.
            ring = (rings[0] if geometry["type"] == "MultiPolygon" else rings)[0]
            centres.append((float(ring[0][1]), float(ring[0][0])))
        except (KeyError, TypeError, IndexError, ValueError):
            continue
    return centres
