from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from tenancy.admin_base import TenantAdmin

from .models import (
    DeliveryEvent,
    FailureReason,
    Order,
    ProofOfDelivery,
    Route,
    Stop,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from .models.webhooks import webhook_secret_new


class DeliveryEventInline(admin.TabularInline):
    """The order's timeline, read-only: events are appended by the services only."""

    model = DeliveryEvent
    extra = 0
    can_delete = False
    fields = ("at", "from_status", "to_status", "source", "actor", "failure_reason", "note")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(TenantAdmin):
    list_display = ["reference", "customer_name", "status", "hub", "window_start", "priority"]
    list_filter = ["status", "priority", "hub"]
    search_fields = ["reference", "tracking_code", "customer_name", "phone", "address"]
    readonly_fields = ["tracking_code", "status", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    inlines = [DeliveryEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Orders come in through the API (or the services), so each starts with its event.
        return False


@admin.register(FailureReason)
class FailureReasonAdmin(TenantAdmin):
    list_display = ["label", "code", "active"]
    list_filter = ["active"]
    search_fields = ["label", "code"]


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(TenantAdmin):
    """Read-only and undeletable: the timeline is evidence, written by the services only."""

    list_display = ["at", "order", "from_status", "to_status", "source", "actor"]
    list_filter = ["to_status", "source"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StopInline(admin.TabularInline):
    model = Stop
    extra = 0
    fields = ["sequence", "order", "planned_arrival", "eta", "actual_arrival", "actual_departure"]
    raw_id_fields = ["order"]


@admin.register(Route)
class RouteAdmin(TenantAdmin):
    list_display = ["date", "hub", "vehicle", "driver", "status"]
    list_filter = ["status", "hub"]
    date_hierarchy = "date"
    inlines = [StopInline]


@admin.register(Stop)
class StopAdmin(TenantAdmin):
    list_display = ["route", "sequence", "order", "eta", "actual_arrival"]
    raw_id_fields = ["order", "route"]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    # Checkboxes instead of the array field's comma-separated text box.
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events", "active"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "url", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    # Set on creation and changed only by the rotate action, so it is never typed in by hand.
    readonly_fields = ["secret", "created_at"]
    actions = ["rotate_secret"]

    @admin.action(description="Rotate the signing secret")
    def rotate_secret(self, request: HttpRequest, queryset: Any) -> None:
        for endpoint in queryset:
            endpoint.secret = webhook_secret_new()
            endpoint.save(update_fields=["secret", "updated_at"])
        messages.warning(
            request,
            f"New secrets for {queryset.count()} endpoint(s): update the receivers now, "
            "the old secrets no longer sign anything.",
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantAdmin):
    """Read-only: the log is written by the sender; replays are made from the console."""

    list_display = ["created_at", "event", "endpoint", "status", "attempts", "last_status_code"]
    list_filter = ["status", "event"]
    search_fields = ["event_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ProofOfDelivery)
class ProofOfDeliveryAdmin(TenantAdmin):
    """Read-only evidence; the files open through the access-checked /pod/ URLs."""

    list_display = ["received_at", "order", "recipient_name", "captured_by"]
    search_fields = ["order__reference", "recipient_name"]
    date_hierarchy = "received_at"
    exclude = ["photo", "signature"]
    readonly_fields = ["photo_link", "signature_link"]

    @admin.display(description="Photo")
    def photo_link(self, obj: ProofOfDelivery) -> str:
        return self._file_link(obj, "photo")

    @admin.display(description="Signature")
    def signature_link(self, obj: ProofOfDelivery) -> str:
        return self._file_link(obj, "signature")

    def _file_link(self, obj: ProofOfDelivery, kind: str) -> str:
        if not getattr(obj, kind):
            return "—"
        url = reverse("driver:pod_file", args=[obj.pk, kind])
        return format_html('<a href="{}" target="_blank" rel="noopener">Open {}</a>', url, kind)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
