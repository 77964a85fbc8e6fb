"""Tenancy: an Organization owns everything; a Membership gives a user one role in one organization.

Every tenant-owned model inherits `TenantModel`: it carries `organization` and its default manager
is scoped by django-scopes, so a query outside `scope(organization=...)` raises ScopeError instead
of quietly returning every tenant's rows.
"""

from __future__ import annotations

import zoneinfo
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django_scopes import ScopedManager


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone: {value}")


class Organization(models.Model):
    class SpeedUnit(models.TextChoices):
        KNOTS = "kn", "knots"
        KMH = "kmh", "km/h"
        MS = "ms", "m/s"
        MPH = "mph", "mph"

    class DistanceUnit(models.TextChoices):
        KM = "km", "kilometres"
        MI = "mi", "miles"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    distance_unit = models.CharField(
        max_length=3, choices=DistanceUnit.choices, default=DistanceUnit.KM
    )
    # Unit in which OsmAnd-protocol devices of this organization report `speed`.
    osmand_speed_unit = models.CharField(
        max_length=3, choices=SpeedUnit.choices, default=SpeedUnit.KNOTS
    )
    currency = models.CharField(max_length=3, default="EUR")
    # Cost parameters feed the idle-time and cost-per-delivery KPIs.
    driver_cost_per_hour = models.DecimalField(max_digits=8, decimal_places=2, default=25)
    vehicle_cost_per_km = models.DecimalField(max_digits=8, decimal_places=3, default="0.350")
    idle_cost_per_hour = models.DecimalField(max_digits=8, decimal_places=2, default=8)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    DISPATCHER = "dispatcher", "Dispatcher"
    SUPPORT = "support", "Support agent"
    DRIVER = "driver", "Driver"


class TenantModel(models.Model):
    """Base of every tenant-owned row, children included."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")

    # ScopedManager builds its class at run time, so the type checker is told what it is.
    objects: ClassVar[models.Manager[Any]] = ScopedManager(organization="organization")

    class Meta:
        abstract = True


class Membership(TenantModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    # Optional hub scope: a dispatcher of two hubs sees only those hubs' vehicles. Empty = all.
    hubs = models.ManyToManyField("fleet.Hub", blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]
        ordering = ["organization__name"]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} @ {self.organization_id}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


# The outbox's and the API tokens' tables belong to this app (tenancy/outbox/, tenancy/api/).
from .api.models import ApiToken, IdempotencyReceipt  # noqa: E402
from .outbox.models import OutboxDelivery, OutboxEvent  # noqa: E402

__all__ = [
    "ApiToken",
    "IdempotencyReceipt",
    "Membership",
    "Organization",
    "OutboxDelivery",
    "OutboxEvent",
    "Role",
    "TenantModel",
]
