"""Reporting: the organization's history settings (trip and stop detection), daily rollups and
issued dispute packets."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models

from tenancy.models import TenantModel

from .eta_bins import ETA_ERROR_CLIP_MINUTES


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
    # Idling's cost (the KPIs): what an engine burns standing still, at what price. The cost
    # per km and per hour are the organization's (tenancy.Organization).
    idle_fuel_litres_per_hour = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.80"),
        validators=[MinValueValidator(Decimal(0))],
        help_text="Fuel an idling engine burns per hour (litres).",
    )
    fuel_price_per_litre = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        default=Decimal("1.900"),
        validators=[MinValueValidator(Decimal(0))],
        help_text="Fuel price per litre, in the organization's currency.",
    )

    class Meta:
        verbose_name_plural = "history settings"
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="one_history_settings_per_org")
        ]

    def __str__(self) -> str:
        return f"History settings of {self.organization}"


# The columns the KPIs add up (reporting/kpis/facts.py), covered by the rollups' indexes.
VEHICLE_KPI_SUMS = (
    "distance_m",
    "moving_seconds",
    "idle_seconds",
    "stopped_seconds",
    "shift_seconds",
    "speeding_events",
)
ROUTE_KPI_SUMS = (
    "stops_planned",
    "stops_visited",
    "deliveries",
    "failures",
    "delivered_with_window",
    "delivered_on_time",
    "first_attempts",
    "first_attempt_successes",
    "dwell_seconds",
    "dwell_stops",
    "on_route_seconds",
)


class DailyVehicleRollup(TenantModel):
    """One vehicle's local day, summed up once (reporting/rollups.py) so dashboards and reports
    read one row instead of rescanning its fixes. Recomputing a day overwrites its rows.

    Keyed and indexed by organization first: the table distributes by `organization_id` later."""

    vehicle = models.ForeignKey("fleet.Vehicle", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The local day in the organization's time zone.")
    # As of that day (plain ids, no joins at read time; history keeps them when rows move):
    # the vehicle's hub, the driver of its route with the most stops, the zones its stops lay in.
    hub_id = models.BigIntegerField(null=True)
    driver_id = models.BigIntegerField(null=True)
    zone_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
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
    shift_seconds = models.PositiveIntegerField(
        default=0, help_text="First to last fix of the day: the tracker's working day."
    )
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "vehicle", "day"], name="one_vehicle_rollup_per_day"
            )
        ]
        # Covering: a KPI read of a period is an index-only scan of this index (the rows
        # themselves also hold first/last fix and trip counts the KPIs do not add up).
        indexes = [
            models.Index(
                fields=["organization", "day"],
                include=["id", "vehicle", "hub_id", "driver_id", "zone_ids", *VEHICLE_KPI_SUMS],
                name="vehicle_rollup_kpi_sums",
            )
        ]

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


class DailyRouteRollup(TenantModel):
    """One route's day (reporting/route_rollups.py): its deliveries, attempts, windows, dwell,
    time on route, plan against actual and ETA errors. The driver's and the hub's days are
    sums of these rows (indexed for it); the vehicle's fix-based figures are the vehicle's."""

    route = models.ForeignKey("deliveries.Route", on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The route's date (a local day).")
    hub_id = models.BigIntegerField(null=True)
    vehicle_id = models.BigIntegerField(null=True)
    driver_id = models.BigIntegerField(null=True)
    zone_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    stops_planned = models.PositiveIntegerField(default=0)
    stops_visited = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    delivered_with_window = models.PositiveIntegerField(default=0)
    delivered_on_time = models.PositiveIntegerField(default=0)
    first_attempts = models.PositiveIntegerField(default=0)
    first_attempt_successes = models.PositiveIntegerField(default=0)
    dwell_seconds = models.PositiveIntegerField(default=0)
    dwell_stops = models.PositiveIntegerField(default=0)
    on_route_seconds = models.PositiveIntegerField(default=0)
    planned_distance_m = models.FloatField(null=True)
    actual_distance_m = models.FloatField(null=True)
    planned_seconds = models.PositiveIntegerField(null=True)
    actual_seconds = models.PositiveIntegerField(null=True)
    sequence_compliance = models.FloatField(null=True)
    # {"<failure reason code>": n}; "" for a failure without a reason.
    failures_by_reason = models.JSONField(default=dict, blank=True)
    # {"60": {"<minutes predicted minus actual>": n}, "30": {...}, "10": {...}}
    eta_errors = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "route"], name="one_route_rollup")
        ]
        indexes = [
            # Covering: a KPI read of a period is an index-only scan, never a read of the
            # wide rows (their JSON histograms are a kilobyte or two each).
            models.Index(
                fields=["organization", "day"],
                include=[
                    "id",
                    "hub_id",
                    "vehicle_id",
                    "driver_id",
                    "zone_ids",
                    *ROUTE_KPI_SUMS,
                    "planned_distance_m",
                    "actual_distance_m",
                    "planned_seconds",
                    "actual_seconds",
                ],
                name="route_rollup_kpi_sums",
            ),
            models.Index(fields=["organization", "driver_id", "day"], name="route_rollup_driver"),
            models.Index(fields=["organization", "hub_id", "day"], name="route_rollup_hub"),
        ]

    def __str__(self) -> str:
        return f"route {self.route_id} {self.day}"


class _HubDayBin(TenantModel):
    """A histogram bin of one local day, hub and set of zones, summed by the rollup pass
    (reporting/route_rollups.py, `hub_day_histograms_refresh`) from that day's route rollups.

    The fleet's summary reads these instead of every route-day's JSON: a 30-day summary is a
    few hundred rows whatever the fleet size, not ~500,000 JSON entries of 6,000 route-days. Routes of the same hub and zones share a row, so a hub or zone filter stays
    exact; a vehicle or driver filter reads that slice's route rows (reporting/kpis/facts.py)."""

    day = models.DateField(help_text="The local day in the organization's time zone.")
    hub_id = models.BigIntegerField(null=True)
    zone_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)

    class Meta:
        abstract = True


def eta_error_column(minutes: int) -> str:
    """The column of one ETA-error bin: `error_minus_3`, `error_0`, `error_plus_12`."""
    if minutes < 0:
        return f"error_minus_{-minutes}"
    return f"error_plus_{minutes}" if minutes else "error_0"


# Every bin of the clipped ETA-error histogram (reporting/kpis/figures.py), one column each.
ETA_ERROR_MINUTES = tuple(range(-ETA_ERROR_CLIP_MINUTES, ETA_ERROR_CLIP_MINUTES + 1))
ETA_ERROR_COLUMNS = tuple(eta_error_column(m) for m in ETA_ERROR_MINUTES)


class DailyEtaErrorHistogram(_HubDayBin):
    """One horizon's ETA-error histogram of the day's arrivals: `error_minus_5` counts the
    arrivals whose ETA, `horizon_minutes` before them, was 5 minutes early (predicted minus
    actual, whole minutes, clipped). The bins are real columns, so a 30-day summary sums a
    few hundred rows (days x hubs x zone sets x 3 horizons) in one aggregate."""

    horizon_minutes = models.PositiveSmallIntegerField()
    for _minutes in ETA_ERROR_MINUTES:
        locals()[eta_error_column(_minutes)] = models.PositiveIntegerField(default=0)
    del _minutes

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "hub_id", "zone_ids", "horizon_minutes"],
                name="one_eta_error_histogram",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} hub {self.hub_id}: ETA errors at {self.horizon_minutes} min"


class DailyFailureReasonCount(_HubDayBin):
    """How many of the day's stops ended failed with this reason ("" for none given)."""

    reason_code = models.CharField(max_length=64, blank=True)
    failures = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "hub_id", "zone_ids", "reason_code"],
                name="one_failure_reason_count",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} hub {self.hub_id}: {self.failures} {self.reason_code or 'no reason'}"


class RollupDirtyMark(TenantModel):
    """A day whose rollup of one vehicle or one route is out of date (a late fix, a corrected
    order): the beat's `rollups_recompute_dirty` recomputes it and removes the mark."""

    class Kind(models.TextChoices):
        VEHICLE = "vehicle", "Vehicle"
        ROUTE = "route", "Route"

    day = models.DateField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    subject_id = models.BigIntegerField()
    marked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "kind", "subject_id"], name="one_dirty_mark"
            )
        ]
        indexes = [models.Index(fields=["organization", "marked_at"], name="dirty_mark_org")]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_id} {self.day}"


# Reports' tables live beside their code; Django finds models through this module.
from .reports.models import ReportRun, ReportSchedule  # noqa: E402

__all__ = [
    "DailyEtaErrorHistogram",
    "DailyFailureReasonCount",
    "DailyRouteRollup",
    "DailyVehicleRollup",
    "DisputePacket",
    "HistorySettings",
    "ReportRun",
    "ReportSchedule",
    "RollupDirtyMark",
]
