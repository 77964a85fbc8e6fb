"""Reporting: the organization's history settings (trip and stop detection), daily rollups and
issued dispute packets."""

from __future__ import annotations

import uuid

from django.conf import settings
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


def dispute_packet_upload_to(instance: DisputePacket, filename: str) -> str:
    # A random name under the organization: files are streamed after an access check
    # (reporting/dispute/views.py), never served from MEDIA_URL.
    return f"dispute/{instance.organization_id}/{uuid.uuid4().hex}.pdf"


class DisputePacket(TenantModel):
    """One issued dispute packet (reporting/dispute/): the PDF as it was handed out, the SHA-256
    of its content (the canonical facts document, printed on every page) and of the file itself,
    so a copy brought back later can be checked. Issuing the same facts again reuses the row."""

    order = models.ForeignKey(
        "deliveries.Order", on_delete=models.CASCADE, related_name="dispute_packets"
    )
    content_sha256 = models.CharField(
        max_length=64, help_text="SHA-256 of the canonical facts document, printed on the PDF."
    )
    file_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the PDF file's bytes.")
    file = models.FileField(upload_to=dispute_packet_upload_to)
    size_bytes = models.PositiveIntegerField()
    facts = models.JSONField(help_text="The facts document the content hash is taken of.")
    generated_at = models.DateTimeField()
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-generated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "order", "content_sha256"],
                name="one_dispute_packet_per_content",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "file_sha256"], name="dispute_packet_file_hash"),
            models.Index(
                fields=["organization", "content_sha256"], name="dispute_packet_content_hash"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute packet {self.order_id} {self.content_sha256[:12]}"
