"""The daily rollups in Django admin: read-only rows (they are computed, never typed) with one
action, "Recompute these days from raw data", for an admin who corrected something by hand."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from tenancy.admin_base import TenantAdmin
from tenancy.context import tenant_context

from .models import DailyRouteRollup, DailyVehicleRollup
from .rollups import rollups_recompute_day


@admin.action(description="Recompute the selected days from raw data")
def recompute_days(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    pairs = sorted(set(queryset.values_list("organization_id", "day")))
    for organization_id, day in pairs:
        with tenant_context(organization_id):
            rollups_recompute_day(organization_id=organization_id, day=day)
    modeladmin.message_user(request, f"Recomputed {len(pairs)} day(s).", messages.SUCCESS)


class RollupAdmin(TenantAdmin):
    actions = [recompute_days]
    date_hierarchy = "day"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DailyVehicleRollup)
class DailyVehicleRollupAdmin(RollupAdmin):
    list_display = [
        "day",
        "vehicle",
        "distance_m",
        "idle_seconds",
        "speeding_events",
        "computed_at",
    ]


@admin.register(DailyRouteRollup)
class DailyRouteRollupAdmin(RollupAdmin):
    list_display = ["day", "route", "deliveries", "failures", "delivered_on_time", "computed_at"]
