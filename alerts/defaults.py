"""The rule set a new organization starts with: every kind the demo's anomalies exercise (and
the delivery kinds), with parameters tuned for urban last-mile fleets. Installed when an
organization is created (post_save, connected in AlertsConfig.ready) and by
`manage.py alerts_install_defaults` for organizations that predate it; installing twice adds
nothing (a rule is identified by its kind and name)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save

from tenancy.context import require_organization, tenant_context
from tenancy.models import Organization, Role

from .kinds import kind_params, params_json
from .models import AlertRule, Channel, Severity

W, C, INFO = Severity.WARNING, Severity.CRITICAL, Severity.INFO
DISPATCH = [Role.DISPATCHER]
DISPATCH_MANAGER = [Role.DISPATCHER, Role.MANAGER]

# (name, kind, severity, params, rule fields)
DEFAULT_RULES: list[tuple[str, str, int, dict[str, Any], dict[str, Any]]] = [
    ("Vehicle offline", "vehicle_offline", W, {"minutes": 5},
     {"min_duration_seconds": 60, "escalate_after_minutes": 30}),
    ("Speeding", "speeding", W, {"limit_kmh": 65, "min_seconds": 15, "hysteresis_kmh": 5}, {}),
    ("Left its service area", "geofence_exit", W, {"zone_kinds": ["service_area"], "min_seconds": 20}, {}),
    ("Entered a restricted zone", "geofence_enter", C, {"zone_kinds": ["restricted"], "min_seconds": 10},
     {"escalate_after_minutes": 10}),
    ("Idle away from a stop", "idle", INFO, {"minutes": 10}, {}),
    ("Unplanned stop", "unplanned_stop", W, {"minutes": 5, "stop_radius_m": 250}, {}),
    ("Off the planned route", "route_deviation", W, {"corridor_m": 500, "min_seconds": 60}, {}),
    ("Tracker battery low", "battery_low", INFO, {"below_pct": 15}, {}),
    ("Tracker data quality", "data_quality", INFO, {"refused_share": 0.15, "window_minutes": 30, "min_fixes": 10}, {}),
    ("Late risk", "late_risk", W, {"minutes_past_window": 0, "slack_per_stop_minutes": 0},
     {"escalate_after_minutes": 20}),
    ("Late delivery", "late", C, {"grace_minutes": 0}, {}),
    ("Long stop at a customer", "long_dwell", INFO, {"minutes_over_service": 10}, {}),
    ("Failed delivery", "delivery_failed", W, {}, {}),
    ("Route not started", "route_not_started", W, {"minutes_late": 15}, {"escalate_after_minutes": 15}),
    ("Delivered far from the address", "pod_far_from_address", W, {"distance_m": 300}, {}),
    ("Failed without a visit", "failed_without_visit", W, {"distance_m": 200}, {}),
    ("Arrived but never near", "arrived_not_near", W, {"distance_m": 200}, {}),
    ("Idle while the next stop is at risk", "idle_while_late_risk", C, {"idle_minutes": 5}, {}),
]  # fmt: skip


def default_rules_install(organization_id: int) -> int:
    """Add the default rules this organization lacks; the number added."""
    require_organization(organization_id)
    existing = set(
        AlertRule.objects.filter(organization_id=organization_id).values_list("kind", "name")
    )
    added = []
    for name, kind, severity, params, fields in DEFAULT_RULES:
        if (kind, name) in existing:
            continue
        added.append(
            AlertRule(
                organization_id=organization_id,
                name=name,
                kind=kind,
                severity=severity,
                params=params_json(kind_params(kind, params)),
                channels=[Channel.IN_APP],
                recipient_roles=DISPATCH_MANAGER if severity >= C else DISPATCH,
                **fields,
            )
        )
    AlertRule.objects.bulk_create(added)
    return len(added)


def _organization_created(
    sender: Any, instance: Organization, created: bool, **kwargs: Any
) -> None:
    if not created or kwargs.get("raw") or not settings.ALERTS_DEFAULT_RULES_ON_CREATE:
        return
    organization_id = instance.pk

    def install() -> None:
        with tenant_context(organization_id):
            default_rules_install(organization_id)

    # After the organization's own transaction commits, like any side effect of a write.
    transaction.on_commit(install)


def default_rules_connect() -> None:
    post_save.connect(
        _organization_created, sender=Organization, dispatch_uid="alerts.default_rules"
    )
