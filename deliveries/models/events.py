from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from fleet.models.hubs import LATITUDE, LONGITUDE
from tenancy.models import TenantModel

from .orders import FailureReason, Order, OrderStatus


class AppendOnlyError(Exception):
    """A timeline row was about to be changed or removed."""


class DeliveryEvent(TenantModel):
    """One status change of an order. The timeline is evidence: rows are only ever added."""

    class Source(models.TextChoices):
        CONSOLE = "console", "Console"
        DRIVER = "driver", "Driver app"
        API = "api", "API"
        SYSTEM = "system", "System"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    # Empty for the first event, the order's creation.
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=8, choices=Source.choices)
    failure_reason = models.ForeignKey(
        FailureReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    latitude = models.FloatField(null=True, blank=True, validators=LATITUDE)
    longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["order", "at"], name="delivery_event_order_at")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} → {self.to_status}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Delivery events are append-only; add a new event instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("Delivery events are append-only and cannot be deleted.")
