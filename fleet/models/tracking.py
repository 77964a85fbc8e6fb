"""Tracking: positions (partitioned time series), per-vehicle live state, refused fixes,
per-organization tracking settings and the dispatcher's saved map views."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager

from tenancy.models import Organization, TenantModel

from .devices import Device
from .vehicles import Vehicle


class TrackingSettings(TenantModel):
    """An organization's filter defaults and status thresholds (a device may override filters)."""

    # Status thresholds
    moving_speed_kmh = models.FloatField(default=5.0, help_text="At or above: moving.")
    stopped_after_seconds = models.PositiveIntegerField(
        default=300, help_text="Stationary longer than this: stopped (shorter: idle)."
    )
    offline_after_seconds = models.PositiveIntegerField(
        default=600, help_text="No fix for longer than this: offline."
    )
    # Filters
    max_future_seconds = models.PositiveIntegerField(default=300)
    max_age_seconds = models.PositiveIntegerField(default=7 * 24 * 3600)
    max_accuracy_m = models.FloatField(default=500.0)
    max_jump_kmh = models.FloatField(default=250.0)
    # OsmAnd carries no secret; with this on, devices must add `token=` to every request.
    require_device_token = models.BooleanField(default=False)
    position_retention_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1)],
        help_text="Positions and refused fixes older than this many days are deleted.",
    )

    class Meta:
        verbose_name_plural = "tracking settings"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="one_tracking_settings_per_org")
        ]

    def __str__(self) -> str:
        return f"Tracking settings of {self.organization}"


class Position(models.Model):
    """One GPS fix. The table is created by hand in the migration: it is range-partitioned by
    `fix_time` (daily), which Django's schema editor cannot express; the ORM only reads it."""

    pk = models.CompositePrimaryKey("device_id", "fix_time")
    organization = models.ForeignKey(Organization, on_delete=models.DO_NOTHING, related_name="+")
    # Read through the tenant scope like every other tenant table (not a TenantModel only
    # because the table is unmanaged and keyed on device + fix time).
    objects: ClassVar[models.Manager[Any]] = ScopedManager(organization="organization")
    device = models.ForeignKey(Device, on_delete=models.DO_NOTHING, related_name="+")
    vehicle = models.ForeignKey(Vehicle, null=True, on_delete=models.DO_NOTHING, related_name="+")
    fix_time = models.DateTimeField()
    server_time = models.DateTimeField()
    latitude = models.FloatField()
    longitude = models.FloatField()
    speed_kmh = models.FloatField(null=True)
    heading = models.FloatField(null=True)
    accuracy_m = models.FloatField(null=True)
    altitude_m = models.FloatField(null=True)
    odometer_m = models.FloatField(null=True)
    battery_pct = models.FloatField(null=True)
    ignition = models.BooleanField(null=True)
    attributes = models.JSONField(default=dict)

    class Meta:
        managed = False
        db_table = "fleet_position"

    def __str__(self) -> str:
        return f"{self.device_id} @ {self.fix_time:%Y-%m-%d %H:%M:%S}"


class VehicleState(TenantModel):
    class Status(models.TextChoices):
        MOVING = "moving", "Moving"
        IDLE = "idle", "Idle"
        STOPPED = "stopped", "Stopped"
        OFFLINE = "offline", "Offline"

    vehicle = models.OneToOneField(
        Vehicle, on_delete=models.CASCADE, related_name="state", primary_key=True
    )
    device = models.ForeignKey(Device, null=True, on_delete=models.SET_NULL, related_name="+")
    fix_time = models.DateTimeField()
    server_time = models.DateTimeField()
    latitude = models.FloatField()
    longitude = models.FloatField()
    speed_kmh = models.FloatField(null=True)
    heading = models.FloatField(null=True)
    accuracy_m = models.FloatField(null=True)
    battery_pct = models.FloatField(null=True)
    ignition = models.BooleanField(null=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.STOPPED)
    stationary_since = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "status"])]

    def __str__(self) -> str:
        return f"{self.vehicle_id} {self.status}"


class RejectedFix(TenantModel):
    """A fix the filters refused, with the reason: the data-health view reads these."""

    class Reason(models.TextChoices):
        INVALID_COORDINATES = "invalid_coordinates", "Invalid or out-of-range coordinates"
        NULL_ISLAND = "null_island", "Position 0,0"
        DUPLICATE = "duplicate", "Duplicate (same device and fix time)"
        FUTURE = "future", "Too far in the future"
        TOO_OLD = "too_old", "Too old"
        LOW_ACCURACY = "low_accuracy", "Accuracy worse than the limit"
        SPEED_JUMP = "speed_jump", "Implied speed jump"
        INVALID_VALUE = "invalid_value", "Value that cannot be stored (NaN, NUL, over a cap)"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    received_at = models.DateTimeField(help_text="When the fix was first refused.")
    fix_time = models.DateTimeField(null=True)
    reason = models.CharField(max_length=24, choices=Reason.choices)
    detail = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict)
    # A device resending the same refused fix counts up here instead of adding a row each time.
    repeats = models.PositiveIntegerField(default=1)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["organization", "-received_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "fix_time", "reason"],
                name="one_rejected_fix_per_device_time_reason",
                nulls_distinct=False,
            )
        ]


class SavedView(TenantModel):
    """A named set of live-map filters, personal or shared with the organization."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    shared = models.BooleanField(default=False)
    filters = models.JSONField(default=dict)
    refresh_seconds = models.PositiveIntegerField(default=5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SavedViewDefault(TenantModel):
    """The one saved view a user opens the map with (per organization)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    view = models.ForeignKey(SavedView, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_default_view")
        ]
