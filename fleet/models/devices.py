from __future__ import annotations

import hmac
import secrets

from django.db import models

from tenancy.models import TenantModel
from tenancy.tokens import token_hash

from .vehicles import Vehicle


class Device(TenantModel):
    class Protocol(models.TextChoices):
        OSMAND = "osmand", "OsmAnd / Traccar Client"
        JSON = "json", "JSON batch API"

    # The id exactly as the tracker sends it; unique across the whole system, since the OsmAnd
    # protocol carries nothing else that could tell which organization a fix belongs to.
    identifier = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=80, blank=True)
    protocol = models.CharField(max_length=8, choices=Protocol.choices, default=Protocol.OSMAND)
    vehicle = models.OneToOneField(
        Vehicle, null=True, blank=True, on_delete=models.SET_NULL, related_name="device"
    )
    token_hash = models.CharField(max_length=64, editable=False)
    active = models.BooleanField(default=True)
    # Per-device filter overrides, e.g. {"max_accuracy_m": 50, "max_jump_kmh": 120}.
    filter_overrides = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The API's `updated_since` (its lists filter on it; every writer saves it or bumps it).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["identifier"]

    def __str__(self) -> str:
        return self.name or self.identifier

    def set_token(self, token: str | None = None) -> str:
        """Store a new token's hash and return the plain token (shown to the admin once)."""
        token = token or secrets.token_urlsafe(24)
        self.token_hash = token_hash(token)
        return token

    def check_token(self, token: str) -> bool:
        return bool(self.token_hash) and hmac.compare_digest(self.token_hash, token_hash(token))
