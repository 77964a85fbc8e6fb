from __future__ import annotations

import secrets

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Upper

from fleet.models.hubs import LATITUDE, LONGITUDE
from tenancy.models import TenantModel


class OrderStatus(models.TextChoices):
    CREATED = "created", "Created"
    ASSIGNED = "assigned", "Assigned"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    ARRIVED = "arrived", "Arrived"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    RETURNED_TO_HUB = "returned_to_hub", "Returned to hub"
    CANCELLED = "cancelled", "Cancelled"


# An order's own data, as a client gives it: the one list the import's columns, the API's
# shapes and the benchmark's COPY are built from (the hub, status and timestamps come apart).
ORDER_DATA_FIELDS = (
    "reference",
    "tracking_code",
    "customer_name",
    "phone",
    "email",
    "address",
    "latitude",
    "longitude",
    "window_start",
    "window_end",
    "service_minutes",
    "priority",
    "weight_kg",
    "volume_l",
    "notes",
)


def tracking_code_new() -> str:
    # ~128 bits of randomness: the public tracking link is the only secret guarding it.
    return secrets.token_urlsafe(16)


def _search_index(field: str) -> GinIndex:
    # Django's `icontains` on PostgreSQL compares UPPER(column): the trigram index is built on
    # that same expression so the support search can use it.
    return GinIndex(OpClass(Upper(field), name="gin_trgm_ops"), name=f"order_{field}_trgm"[:30])


class Order(TenantModel):
    class Priority(models.IntegerChoices):
        NORMAL = 0, "Normal"
        HIGH = 1, "High"
        URGENT = 2, "Urgent"

    reference = models.CharField(max_length=64)
    tracking_code = models.CharField(
        max_length=32, unique=True, editable=False, default=tracking_code_new
    )
    customer_name = models.CharField(max_length=120)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    address = models.CharField(max_length=255)
    # Empty until geocoded: such orders are flagged "needs coordinates" and cannot be routed.
    latitude = models.FloatField(null=True, blank=True, validators=LATITUDE)
    longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    service_minutes = models.PositiveSmallIntegerField(
        default=5, validators=[MaxValueValidator(240)]
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    weight_kg = models.FloatField(default=0, validators=[MinValueValidator(0)])
    volume_l = models.FloatField(default=0, validators=[MinValueValidator(0)])
    notes = models.TextField(blank=True)
    hub = models.ForeignKey("fleet.Hub", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.CREATED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "reference"], name="order_reference_unique_per_org"
            ),
            models.CheckConstraint(
                condition=models.Q(window_start__isnull=True)
                | models.Q(window_end__isnull=True)
                | models.Q(window_end__gt=models.F("window_start")),
                name="order_window_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status"], name="order_org_status"),
            models.Index(fields=["organization", "window_start"], name="order_org_window"),
            _search_index("reference"),
            _search_index("customer_name"),
            _search_index("phone"),
            _search_index("address"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def needs_coordinates(self) -> bool:
        return self.latitude is None or self.longitude is None


class FailureReason(TenantModel):
    """Why a delivery attempt failed; each organization keeps its own list."""

    code = models.SlugField(max_length=32)
    label = models.CharField(max_length=120)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code"], name="failure_reason_code_unique_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.label
