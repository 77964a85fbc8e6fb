"""Building alerts' test state through the real paths: positions rows as ingest writes them,
the `positions.flushed` event ingest emits after its commit (until ingest's own emit lands,
`positions_flushed_emit` is that event, with the same payload), rules as an admin saves them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django_scopes import scopes_disabled

from alerts.evaluation.rules import org_rules_cache_clear
from alerts.evaluation.stream import Fix
from alerts.kinds import kind_params, params_json
from alerts.models import Alert, AlertEvent, AlertRule
from tenancy.context import tenant_context
from tenancy.outbox import outbox_emit
from tenancy.outbox.models import OutboxEvent
from tests.conftest import Tenant

HUB = (52.37, 4.89)  # where the factories put the hub (and its 1 km zone)
T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def positions_insert(
    tenant: Tenant,
    fixes: Iterable[Fix],
    *,
    vehicle_id: int | None = None,
    device_id: int | None = None,
) -> int:
    """Rows in fleet_position as the ingest writer stores them (Fix.t is seconds after T0)."""
    rows = [
        (device_id or tenant.device.pk, tenant.organization.pk, vehicle_id or tenant.vehicle.pk,
         at(f.t), at(f.t), f.lat, f.lon, f.speed, f.battery, f.ignition)
        for f in fixes
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO fleet_position (device_id, organization_id, vehicle_id, fix_time, "
            "server_time, latitude, longitude, speed_kmh, battery_pct, ignition) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            rows,
        )
    return len(rows)


def positions_flushed_emit(
    tenant: Tenant, vehicle_ids: Sequence[int], fixes: Sequence[Fix]
) -> None:
    """The event ingest emits once a flush committed (payload as agreed with the live work)."""
    with tenant_context(tenant.organization.pk), transaction.atomic():
        outbox_emit(
            organization_id=tenant.organization.pk, kind="positions.flushed",
            aggregate="organization", aggregate_id=tenant.organization.pk,
            payload={
                "vehicle_ids": list(vehicle_ids), "fix_count": len(fixes),
                "first_fix_at": at(min(f.t for f in fixes)).isoformat(),
                "last_fix_at": at(max(f.t for f in fixes)).isoformat(),
            },
        )  # fmt: skip


def rule_create(
    tenant: Tenant, kind: str, *, params: dict[str, Any] | None = None, **fields: Any
) -> AlertRule:
    fields.setdefault("cooldown_seconds", 0)
    with scopes_disabled():
        rule = AlertRule.objects.create(
            organization=tenant.organization, name=f"{kind} rule", kind=kind,
            params=params_json(kind_params(kind, params or {})), **fields,
        )  # fmt: skip
    org_rules_cache_clear()
    return rule


def alerts_of(tenant: Tenant, **filters: Any) -> list[Alert]:
    with scopes_disabled():
        return list(
            Alert.objects.filter(organization=tenant.organization, **filters).order_by(
                "opened_at", "id"
            )
        )


def timeline(alert: Alert) -> list[str]:
    with scopes_disabled():
        return list(
            AlertEvent.objects.filter(alert=alert)
            .order_by("at", "id")
            .values_list("kind", flat=True)
        )


def outbox_kinds(tenant: Tenant, prefix: str = "alert.") -> list[str]:
    with scopes_disabled():
        return list(
            OutboxEvent.objects.filter(organization=tenant.organization, kind__startswith=prefix)
            .order_by("id")
            .values_list("kind", flat=True)
        )
