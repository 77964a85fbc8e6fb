from __future__ import annotations

import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from tenancy.models import TenantModel


class WebhookEvent(models.TextChoices):
    ORDER_CREATED = "order.created", "Order created"
    ORDER_STATUS_CHANGED = "order.status_changed", "Order status changed"
    ORDER_ETA_CHANGED = "order.eta_changed", "Order ETA changed"
    ORDER_DELIVERED = "order.delivered", "Order delivered"
    ORDER_FAILED = "order.failed", "Order failed"
    ROUTE_CHANGED = "route.changed", "Route changed"
    # Sent for the alerts app (registered through deliveries.webhooks.webhook_kinds_register).
    ALERT_OPENED = "alert.opened", "Alert opened"
    ALERT_RESOLVED = "alert.resolved", "Alert resolved"


def webhook_secret_new() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(TenantModel):
    """A URL of the organization's that receives signed event deliveries."""

    name = models.CharField(max_length=120)
    url = models.URLField(max_length=500)
    # Shared with the receiver, which checks the HMAC-SHA256 signature with it.
    secret = models.CharField(max_length=64, default=webhook_secret_new)
    events = ArrayField(models.CharField(max_length=40, choices=WebhookEvent.choices), default=list)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The API's `updated_since` (its lists filter on it; every writer saves it or bumps it).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(TenantModel):
    """One event sent (or being sent) to one endpoint; its attempts are logged on the row."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The domain event (tenancy.OutboxEvent) this delivery announces; none on a replay. Not a
    # foreign key: the outbox may be pruned long before the delivery log.
    outbox_event_id = models.BigIntegerField(null=True, blank=True)
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    # The receiver's deduplication key: the same on every attempt, new on a replay.
    event_id = models.UUIDField(unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "created_at"], name="webhook_delivery_org_created")
        ]
        constraints = [
            # An outbox event relayed twice must not be sent twice.
            models.UniqueConstraint(
                fields=["outbox_event_id", "endpoint", "event"], name="webhook_delivery_per_event"
            )
        ]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"
