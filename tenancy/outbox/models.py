"""The outbox tables. They live in the tenancy app (the bottom layer) so every app may emit and
subscribe; both carry `organization_id`, so row-level security covers them like any tenant
table."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tenancy.models import TenantModel


class OutboxEvent(TenantModel):
    """One domain event, written in the transaction of the change it announces. The id (a
    bigserial) is the global order; the relay hands events out in id order per organization."""

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=60)  # e.g. "order.status_changed"
    aggregate = models.CharField(max_length=30)  # "order", "stop", "route"
    aggregate_id = models.BigIntegerField()
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField(default=timezone.now)
    # Set once every subscriber has it (or gave up on it): the relay's work list is the rest.
    relayed_at = models.DateTimeField(null=True, blank=True)
    # When the relay should look at the event next (a failed handler's backoff).
    next_attempt_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["organization", "id"],
                name="outbox_event_pending",
                condition=models.Q(relayed_at__isnull=True),
            ),
            models.Index(fields=["aggregate", "aggregate_id"], name="outbox_event_aggregate"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.aggregate}:{self.aggregate_id}"


class OutboxDelivery(TenantModel):
    """What one subscriber did with one event. Unique per (event, subscriber): the relay skips
    a subscriber whose row says delivered, so a handler runs again only after a failure (or a
    crash before the row committed), which is why handlers must be idempotent."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"  # gave up after OUTBOX_MAX_ATTEMPTS

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.CharField(max_length=60)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event_id", "subscriber"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "subscriber"], name="outbox_delivery_event_subscriber"
            )
        ]
        verbose_name_plural = "outbox deliveries"

    def __str__(self) -> str:
        return f"{self.event_id} → {self.subscriber} ({self.status})"
