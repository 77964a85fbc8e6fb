from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from tenancy.admin_base import TenantAdmin

from .models import Device, Driver, Hub, RejectedFix, SavedView, TrackingSettings, Vehicle, Zone
from .selectors import device_identifier_available
from .services import vehicles_touch

# The same words whether the identifier is this organization's or another's: the form must not
# tell an admin that some other tenant has a device of that name.
IDENTIFIER_TAKEN = "This identifier cannot be used; choose another."


class DeviceAdminForm(forms.ModelForm):
    class Meta:
        model = Device
        # Naming a related field here would build its (scoped) queryset at import time: the
        # admin's own `fields` (DeviceAdmin) build the whole form per request, inside the scope.
        fields = ["identifier"]

    def clean_identifier(self) -> str:
        identifier: str = self.cleaned_data["identifier"]
        if not device_identifier_available(identifier, exclude_device_id=self.instance.pk):
            raise forms.ValidationError(IDENTIFIER_TAKEN, code="unavailable")
        return identifier


@admin.register(Hub)
class HubAdmin(TenantAdmin):
    list_display = ["name", "code", "region", "latitude", "longitude"]
    search_fields = ["name", "code", "region"]


@admin.register(Zone)
class ZoneAdmin(TenantAdmin):
    list_display = ["name", "kind", "hub"]
    list_filter = ["kind"]
    search_fields = ["name"]


@admin.register(Driver)
class DriverAdmin(TenantAdmin):
    list_display = ["name", "phone", "hub", "active"]
    list_filter = ["active"]
    search_fields = ["name", "phone"]


@admin.register(Vehicle)
class VehicleAdmin(TenantAdmin):
    list_display = ["plate", "name", "type", "hub", "driver", "active"]
    list_filter = ["type", "active"]
    search_fields = ["plate", "name"]


@admin.register(Device)
class DeviceAdmin(TenantAdmin):
    form = DeviceAdminForm
    # Without them the admin took the form's one field (identifier) as the whole form.
    fields = ["identifier", "name", "protocol", "vehicle", "active", "filter_overrides"]
    list_display = ["identifier", "name", "protocol", "vehicle", "active"]
    list_filter = ["protocol", "active"]
    search_fields = ["identifier", "name"]
    actions = ["regenerate_token"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not obj.token_hash:
            token = obj.set_token()
            messages.warning(
                request,
                f"Device token for {obj.identifier}: {token} — copy it now, it is shown once.",
            )
        left = Device.objects.filter(pk=obj.pk).values_list("vehicle_id", flat=True).first()
        super().save_model(request, obj, form, change)
        if left != obj.vehicle_id:
            vehicles_touch(organization_id=obj.organization_id, vehicle_ids=[left, obj.vehicle_id])

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        vehicles_touch(organization_id=obj.organization_id, vehicle_ids=[obj.vehicle_id])

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        left = list(queryset.values_list("organization_id", "vehicle_id"))
        super().delete_queryset(request, queryset)
        for organization_id, vehicle_id in left:
            vehicles_touch(organization_id=organization_id, vehicle_ids=[vehicle_id])

    @admin.action(description="Issue a new token (shown once)")
    def regenerate_token(self, request: HttpRequest, queryset: Any) -> None:
        for device in queryset:
            token = device.set_token()
            device.save(update_fields=["token_hash", "updated_at"])
            messages.warning(request, f"New token for {device.identifier}: {token}")


@admin.register(TrackingSettings)
class TrackingSettingsAdmin(TenantAdmin):
    list_display = [
        "organization",
        "require_device_token",
        "moving_speed_kmh",
        "offline_after_seconds",
    ]
    # One click on the list turns device tokens on for the organization (docs/security.md).
    list_editable = ["require_device_token"]
    fieldsets = [
        (
            "Device security",
            {
                "fields": ["require_device_token"],
                "description": (
                    "With this on, OsmAnd devices must send token=&lt;device token&gt; with "
                    "every fix, and a wrong or missing token is refused exactly like an "
                    "unknown device. Issue tokens under Devices (action: issue a new token) "
                    "and put them in the trackers first. Takes effect within 30 seconds."
                ),
            },
        ),
        (
            "Status thresholds",
            {"fields": ["moving_speed_kmh", "stopped_after_seconds", "offline_after_seconds"]},
        ),
        (
            "Position filters",
            {"fields": ["max_future_seconds", "max_age_seconds", "max_accuracy_m", "max_jump_kmh"]},
        ),
        ("Retention", {"fields": ["position_retention_days"]}),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if request.user.is_superuser:  # the operator picks the organization
            fieldsets.insert(0, (None, {"fields": ["organization"]}))
        return fieldsets

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row per organization: a second would fail its unique constraint.
        if not super().has_add_permission(request):
            return False
        if request.user.is_superuser:
            return True
        return not TrackingSettings.objects.filter(organization=request.organization).exists()  # type: ignore[attr-defined]


@admin.register(RejectedFix)
class RejectedFixAdmin(TenantAdmin):
    """Read-only: refusals are evidence, not configuration."""

    list_display = ["received_at", "device", "fix_time", "reason", "detail"]
    list_filter = ["reason"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SavedView)
class SavedViewAdmin(TenantAdmin):
    list_display = ["name", "owner", "shared", "refresh_seconds"]
    list_filter = ["shared"]
    readonly_fields = ["owner"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.owner = request.user
        super().save_model(request, obj, form, change)
