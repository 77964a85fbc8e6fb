from __future__ import annotations

import pathlib
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from fleet.models.hubs import LATITUDE, LONGITUDE
from tenancy.models import TenantModel

from .orders import Order


def pod_upload_to(instance: ProofOfDelivery, filename: str) -> str:
    # A random name under the organization: the path itself reveals nothing about the order,
    # and files are never served straight from MEDIA_URL (see deliveries/views/pod.py).
    suffix = pathlib.Path(filename).suffix.lower()[:8] or ".bin"
    return f"pod/{instance.organization_id}/{uuid.uuid4().hex}{suffix}"


class ProofOfDelivery(TenantModel):
    """What the driver captured at the door: photo, signature, recipient, where and when."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="proofs")
    photo = models.ImageField(upload_to=pod_upload_to, blank=True)
    signature = models.ImageField(upload_to=pod_upload_to, blank=True)
    recipient_name = models.CharField(max_length=120, blank=True)
    notes = models.TextField(blank=True)
    # The phone's own stamp; received_at is the server's.
    latitude = models.FloatField(null=True, blank=True, validators=LATITUDE)
    longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE)
    accuracy_m = models.FloatField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    captured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "proof of delivery"
        verbose_name_plural = "proofs of delivery"

    def __str__(self) -> str:
        return f"POD {self.order_id} {self.received_at:%Y-%m-%d %H:%M}"


class ActionReceipt(TenantModel):
    """A client action applied once: the driver app (and API clients) send an idempotency key;
    a retry with the same key gets the stored answer instead of applying the action again."""

    key = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=32)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key"], name="action_receipt_key_unique_per_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"
