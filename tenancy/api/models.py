"""API tokens: the credential of one integration of one organization (tenancy/api/)."""

from __future__ import annotations

import hmac
import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models

from ..models import TenantModel
from ..tokens import token_hash


class Scope(models.TextChoices):
    """What a token may do (tenancy/api/permissions.py; docs/api.md). Every scope may read."""

    READ = "read", "Read only"
    ORDERS = "orders", "Orders and routes"
    TRACKING = "tracking", "Tracking ingest and devices"
    ALERTS = "alerts", "Alerts (acknowledge, assign, snooze, note, resolve)"
    ADMIN = "admin", "Admin (hubs, fleet, webhooks, tokens; implies every scope)"


def default_scopes() -> list[str]:
    return [Scope.READ, Scope.ORDERS]


class ApiToken(TenantModel):
    """A credential for one integration of one organization (`Authorization: Token <token>`).
    Not a device token: a tracker authenticates its fixes with its own device token
    (fleet.Device), which opens nothing else."""

    name = models.CharField(max_length=80)
    scopes = ArrayField(
        models.CharField(max_length=10, choices=Scope.choices),
        default=default_scopes,
        help_text="read, orders, tracking, admin (admin implies all; every scope may read).",
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The API's `updated_since`: its name, scopes or active flag changed (every writer saves
    # it). Not its use: `api_token_touch` writes `last_used_at` alone.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "tenancy"
        # The table keeps the name it had when the model lived in deliveries (no data moved).
        db_table = "deliveries_apitoken"
        ordering = ["name"]
        indexes = [
            models.Index(fields=["organization", "updated_at"], name="apitoken_org_updated_at")
        ]

    def __str__(self) -> str:
        return self.name

    def set_token(self, token: str | None = None) -> str:
        """Store a new token's hash and return the plain token (shown to the admin once)."""
        token = token or secrets.token_urlsafe(32)
        self.token_hash = token_hash(token)
        return token

    def check_token(self, token: str) -> bool:
        return bool(self.token_hash) and hmac.compare_digest(self.token_hash, token_hash(token))

    def allows(self, scope: str) -> bool:
        """May this token act in `scope`? Every token reads; admin does everything."""
        return scope == Scope.READ or Scope.ADMIN in self.scopes or scope in self.scopes


class IdempotencyReceipt(TenantModel):
    """The first answer to a POST sent with an `Idempotency-Key` (tenancy/api/idempotency.py):
    a retry with the same key and body gets it again; another body with that key is a 422."""

    key = models.CharField(max_length=64)
    # Whose key: "token:<id>" or "user:<id>" (keys are the client's, never shared).
    credential = models.CharField(max_length=40)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField(null=True)
    location = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "tenancy"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "credential", "key"], name="idempotency_receipt_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.credential} {self.key} -> {self.status}"
