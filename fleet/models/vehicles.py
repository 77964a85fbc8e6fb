from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from tenancy.models import TenantModel

from .hubs import Hub


class Driver(TenantModel):
    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=32, blank=True)
    # The login a driver uses for the driver app, when they have one.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hub = models.ForeignKey(
        Hub, null=True, blank=True, on_delete=models.SET_NULL, related_name="drivers"
    )
    active = models.BooleanField(default=True)
    # The API's `updated_since` (its lists filter on it; every writer saves it or bumps it).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Vehicle(TenantModel):
    class Type(models.TextChoices):
        VAN = "van", "Van"
        TRUCK = "truck", "Truck"
        CAR = "car", "Car"
        CARGO_BIKE = "cargo_bike", "Cargo bike"
        SCOOTER = "scooter", "Scooter"

    plate = models.CharField(max_length=20)
    name = models.CharField(max_length=80, blank=True)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.VAN)
    capacity_kg = models.PositiveIntegerField(default=800)
    capacity_volume_l = models.PositiveIntegerField(default=3000)
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="vehicles")
    driver = models.ForeignKey(
        Driver, null=True, blank=True, on_delete=models.SET_NULL, related_name="vehicles"
    )
    # Free tags, also used as the dispatcher's "priority segment" filter (e.g. "express", "cold").
    tags = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    active = models.BooleanField(default=True)
    # The API's `updated_since`: its own fields, and its device coming or going (the answer
    # shows the device's identifier; fleet/services.py `vehicles_touch`).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["plate"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "plate"], name="plate_unique_per_org")
        ]

    def __str__(self) -> str:
        return self.plate
