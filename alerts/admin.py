"""Alert rules and holidays in the tenant-scoped admin. The rule form (alerts/forms.py, shared
with the console's settings page) validates the kind's parameters (alerts/kinds) and the active
hours, and offers scope choices from the organization's own hubs, zones, vehicles and routes
only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tenancy.admin_base import ScopedChoicesFormMixin, TenantAdmin

from .forms import AlertRuleForm
from .models import AlertRule, Holiday


@admin.register(AlertRule)
class AlertRuleAdmin(ScopedChoicesFormMixin, TenantAdmin):
    form = AlertRuleForm
    list_display = ["name", "kind", "severity", "enabled", "scope_kind", "cooldown_seconds"]
    list_filter = ["kind", "severity", "enabled", "scope_kind"]
    search_fields = ["name"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled", "severity", "params"]}),
        ("Scope", {"fields": ["scope_kind", "scope_hub_ids", "scope_zone_ids",
                              "scope_vehicle_ids", "scope_tags", "scope_route_ids"]}),
        ("When", {"fields": ["active_hours", "holidays_off", "min_duration_seconds",
                             "cooldown_seconds"]}),
        ("Who hears of it", {"fields": ["channels", "recipient_roles", "recipient_hub_ids",
                                        "escalate_after_minutes"]}),
    ]  # fmt: skip

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if request.user.is_superuser:
            fieldsets.insert(0, ("Organization", {"fields": ["organization"]}))
        return fieldsets


@admin.register(Holiday)
class HolidayAdmin(TenantAdmin):
    list_display = ["date", "name"]
    search_fields = ["name"]
    date_hierarchy = "date"
