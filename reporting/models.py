"""Reporting: the organization's history settings (trip and stop detection) and daily rollups."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from tenancy.models import TenantModel


class HistorySettings(TenantModel):
    """How an organization's tracks are cut into trips and stops (reporting/trips.py)."""

    min_stop_seconds = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(30)],
        help_text="Standing still at least this long is a stop; shorter pauses stay in the trip.",
    )
    min_trip_distance_m = models.PositiveIntegerField(
        default=300, help_text="A trip shorter than this along its path is ignored."
    )
    min_trip_seconds = models.PositiveIntegerField(
        default=60, help_text="A trip shorter than this in time is ignored."
    )
    gap_seconds = models.PositiveIntegerField(
        default=600,
        validators=[MinValueValidator(30)],
        help_text="No fix for longer than this splits a trip.",
    )
    use_ignition = models.BooleanField(
        default=True,
        help_text="When a device reports the ignition, ignition off means standing still.",
    )
    moving_speed_kmh = models.FloatField(
        default=5.0, validators=[MinValueValidator(0.5)], help_text="At or above: moving."
    )
    stop_radius_m = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(5)],
        help_text="GPS wander inside this circle while parked is not a trip.",
    )
    speeding_kmh = models.FloatField(
        default=90.0, help_text="Fixes above this speed count as speeding in the daily rollups."
    )

    class Meta:
        verbose_name_plural = "history settings"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="one_history_settings_per_org")
        ]

    def __str__(self) -> str:
        return f"History settings of {self.organization}"


class DailyVehicleRollup(TenantModel):
    """One vehicle's local day, summed up once (reporting/rollups.py) so dashboards and reports
    read one row instead of rescanning its fixes. Recomputing a day overwrites its rows.

    Keyed and indexed by organization first: the table distributes by `organization_id` later."""

    vehicle = models.ForeignKey("fleet.Vehicle", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The local day in the organization's time zone.")
    fixes = models.PositiveIntegerField(default=0)
    first_fix_at = models.DateTimeField(null=True)
    last_fix_at = models.DateTimeField(null=True)
    distance_m = models.FloatField(default=0)
    moving_seconds = models.PositiveIntegerField(default=0)
    idle_seconds = models.PositiveIntegerField(default=0)
    stopped_seconds = models.PositiveIntegerField(default=0)
    trips = models.PositiveIntegerField(default=0)
    stops = models.PositiveIntegerField(default=0)
    max_speed_kmh = models.FloatField(default=0)
    speeding_events = models.PositiveIntegerField(
        default=0, help_text="Episodes above the organization's speeding threshold."
    )
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "vehicle", "day"], name="one_vehicle_rollup_per_day"
            )
        ]
        indexes = [models.Index(fields=["organization", "day"], name="vehicle_rollup_org_day")]

    def __str__(self) -> str:
        return f"{self.vehicle_id} {self.day}"
