from __future__ import annotations

from django.db import models

from tenancy.models import TenantModel

from .orders import Order


class Route(TenantModel):
    """One vehicle's day from one hub. Planning fills it; the driver app works through it."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        DISPATCHED = "dispatched", "Dispatched"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    hub = models.ForeignKey("fleet.Hub", on_delete=models.PROTECT, related_name="routes")
    date = models.DateField()
    vehicle = models.ForeignKey(
        "fleet.Vehicle", null=True, blank=True, on_delete=models.SET_NULL, related_name="routes"
    )
    driver = models.ForeignKey(
        "fleet.Driver", null=True, blank=True, on_delete=models.SET_NULL, related_name="routes"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PLANNED)
    # Bumped on every plan change (stops added, removed, reordered) so the driver app and the
    # ETA refresh can tell that what they hold is out of date.
    plan_version = models.PositiveIntegerField(default=0)
    # The plan version the stops' ETAs were last computed for: the editor shows "updating" and
    # polls while it differs from plan_version (the refresh runs in a worker after a change).
    etas_plan_version = models.PositiveIntegerField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The route or its stops last changed (plan, status, visits, ETAs). Every route writer
    # takes the route's lock first and moves it there (deliveries/services/routes.py
    # `_route_lock`, the ETA refresh), so it is never missed. The API's `updated_since` also
    # counts its stops' orders' `updated_at` (RouteFilterSet, route_list's `changed_at`).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "id"]
        indexes = [
            models.Index(fields=["organization", "date"], name="route_org_date"),
            models.Index(fields=["organization", "updated_at"], name="route_org_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.hub} {self.date} #{self.pk}"


class Stop(TenantModel):
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="stops")
    sequence = models.PositiveIntegerField()
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="stops")
    planned_arrival = models.DateTimeField(null=True, blank=True)
    eta = models.DateTimeField(null=True, blank=True)
    actual_arrival = models.DateTimeField(null=True, blank=True)
    actual_departure = models.DateTimeField(null=True, blank=True)
    eta_updated_at = models.DateTimeField(null=True, blank=True)
    # The ETA is past the order's window end: the dispatcher should act before the customer calls.
    late_risk = models.BooleanField(default=False)

    class Meta:
        ordering = ["route", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["route", "sequence"], name="stop_sequence_unique")
        ]

    def __str__(self) -> str:
        return f"{self.route_id}#{self.sequence}"
