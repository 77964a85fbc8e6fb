"""Report schedules and runs in the tenant-scoped admin: a schedule's choices are the
organization's own hubs, zones, vehicles and drivers (the console's form); runs are read-only
(the archive's rows, deleted by retention or here)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tenancy.admin_base import ScopedChoicesFormMixin, TenantAdmin

from .forms import ReportScheduleForm
from .models import ReportRun, ReportSchedule


@admin.register(ReportSchedule)
class ReportScheduleAdmin(ScopedChoicesFormMixin, TenantAdmin):
    form = ReportScheduleForm
    list_display = ("name", "kind", "frequency", "file_format", "enabled", "created_at")
    list_filter = ("frequency", "enabled")
    search_fields = ("name", "recipients")


@admin.register(ReportRun)
class ReportRunAdmin(TenantAdmin):
    list_display = ("kind", "period_start", "period_end", "file_format", "status", "created_at")
    list_filter = ("status", "file_format")
    readonly_fields = [field.name for field in ReportRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
