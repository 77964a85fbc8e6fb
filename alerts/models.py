"""Alerts: rules an organization's admins configure, the alerts (episodes) they open, each
alert's timeline, the evaluators' per-subject state, and notifications.

An alert is one *episode* of a rule's condition on one subject (a vehicle, a route, an order):
it opens when the condition has held for the rule's minimum duration, stays the one open alert
for that rule and subject (a partial unique index), and resolves when the condition clears (with
hysteresis) or when a person resolves it. Its timeline (`AlertEvent`) records who was notified,
who acknowledged, assigned, snoozed or resolved it, and how.

Scopes are arrays of ids rather than many-to-many tables: a join table has no organization_id
of its own, so it would escape the row-level security every tenant table gets (tenancy/rls.py).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from tenancy.models import Role, TenantModel


class Severity(models.IntegerChoices):
    INFO = 10, "Info"
    WARNING = 20, "Warning"
    CRITICAL = 30, "Critical"


class Channel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class RuleKind(models.TextChoices):
    # Telematics
    VEHICLE_OFFLINE = "vehicle_offline", "Vehicle offline"
    BATTERY_LOW = "battery_low", "Device battery low"
    DATA_QUALITY = "data_quality", "Data quality (refused fixes)"
    IDLE = "idle", "Idle"
    UNPLANNED_STOP = "unplanned_stop", "Unplanned stop"
    SPEEDING = "speeding", "Speeding"
    GEOFENCE_ENTER = "geofence_enter", "Geofence enter"
    GEOFENCE_EXIT = "geofence_exit", "Geofence exit"
    ROUTE_DEVIATION = "route_deviation", "Route deviation"
    # Deliveries
    LATE_RISK = "late_risk", "Late risk"
    LATE = "late", "Late"
    LONG_DWELL = "long_dwell", "Long dwell at a customer"
    DELIVERY_FAILED = "delivery_failed", "Failed delivery"
    ROUTE_NOT_STARTED = "route_not_started", "Route not started"
    # Order state joined with telematics
    POD_FAR_FROM_ADDRESS = "pod_far_from_address", "Delivered or failed far from the address"
    FAILED_WITHOUT_VISIT = "failed_without_visit", "Failed with no stop near the address"
    ARRIVED_NOT_NEAR = "arrived_not_near", "Marked arrived, vehicle never near"
    IDLE_WHILE_LATE_RISK = "idle_while_late_risk", "Driver idle while next stop is at late risk"


class SubjectType(models.TextChoices):
    VEHICLE = "vehicle", "Vehicle"
    DEVICE = "device", "Device"
    ROUTE = "route", "Route"
    STOP = "stop", "Stop"
    ORDER = "order", "Order"


class AlertRule(TenantModel):
    """What to watch, where, when, how loud, and whom to tell."""

    class ScopeKind(models.TextChoices):
        ALL = "all", "Everything"
        HUBS = "hubs", "Hubs"
        ZONES = "zones", "Zones"
        VEHICLES = "vehicles", "Vehicles"
        TAGS = "tags", "Vehicle tags"
        ROUTES = "routes", "Routes"

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=RuleKind.choices)
    enabled = models.BooleanField(default=True)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, default=Severity.WARNING)
    # Typed per kind (alerts/kinds.py validates and fills defaults); e.g. speeding:
    # {"limit_kmh": 90, "use_zone_limit": true, "min_seconds": 20, "hysteresis_kmh": 5}.
    params = models.JSONField(default=dict, blank=True)

    scope_kind = models.CharField(max_length=12, choices=ScopeKind.choices, default=ScopeKind.ALL)
    scope_hub_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    scope_zone_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    scope_vehicle_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    scope_tags = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    scope_route_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)

    # Active hours in the organization's time zone: [{"days": [0..6], "start": "07:00",
    # "end": "19:00"}, ...]; empty means always. Monday is 0.
    active_hours = models.JSONField(default=list, blank=True)
    holidays_off = models.BooleanField(
        default=False, help_text="Not active on the organization's holidays."
    )
    min_duration_seconds = models.PositiveIntegerField(
        default=0, help_text="The condition must hold this long before an alert opens."
    )
    cooldown_seconds = models.PositiveIntegerField(
        default=600,
        help_text="After an alert resolves, the same subject opens no new one for this long.",
    )

    channels = ArrayField(
        models.CharField(max_length=8, choices=Channel.choices),
        default=list,
        blank=True,
    )
    recipient_roles = ArrayField(
        models.CharField(max_length=16, choices=Role.choices),
        default=list,
        blank=True,
    )
    # Empty: recipients of every hub; otherwise only members scoped to (or unscoped over) these.
    recipient_hub_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    # Escalation: unacknowledged this long (and at least this severe) -> notify the next role up.
    escalate_after_minutes = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        indexes = [models.Index(fields=["organization", "kind", "enabled"])]

    def __str__(self) -> str:
        return self.name


class Alert(TenantModel):
    """One episode of a rule's condition on one subject."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    class Resolution(models.TextChoices):
        CLEARED = "cleared", "Condition cleared"
        MANUAL = "manual", "Resolved by a person"
        RULE_DISABLED = "rule_disabled", "Rule disabled or deleted"

    rule = models.ForeignKey(AlertRule, null=True, on_delete=models.SET_NULL, related_name="alerts")
    kind = models.CharField(max_length=32, choices=RuleKind.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)

    subject_type = models.CharField(max_length=8, choices=SubjectType.choices)
    subject_id = models.BigIntegerField()
    subject_label = models.CharField(max_length=160, blank=True)
    # What the inbox filters on and the map centres on; plain ids so that an alert outlives
    # the rows it was about (history and reports keep it).
    vehicle_id = models.BigIntegerField(null=True, blank=True)
    hub_id = models.BigIntegerField(null=True, blank=True)
    route_id = models.BigIntegerField(null=True, blank=True)
    order_id = models.BigIntegerField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    title = models.CharField(max_length=200)
    # Kind-specific facts: peak speed, duration, distance from the address, refused share...
    details = models.JSONField(default=dict, blank=True)

    condition_started_at = models.DateTimeField(help_text="When the condition began to hold.")
    opened_at = models.DateTimeField()
    last_evaluated_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    # The API's `updated_since`: the engine's and the people's every write of the alert saves
    # it (alerts/services/episodes.py, actions.py), a note on its timeline too.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-severity", "opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "rule", "subject_type", "subject_id"],
                condition=~Q(status="resolved"),
                name="alert_one_open_per_rule_subject",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "status", "-severity", "opened_at"]),
            models.Index(fields=["organization", "vehicle_id", "opened_at"]),
            models.Index(fields=["organization", "opened_at"]),
            models.Index(fields=["organization", "updated_at"], name="alert_org_updated_at"),
        ]

    def __str__(self) -> str:
        return self.title


class AlertEvent(TenantModel):
    """One line of an alert's timeline."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        NOTIFIED = "notified", "Notified"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ASSIGNED = "assigned", "Assigned"
        SNOOZED = "snoozed", "Snoozed"
        NOTE = "note", "Note"
        ESCALATED = "escalated", "Escalated"
        UPDATED = "updated", "Updated"
        RESOLVED = "resolved", "Resolved"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An integration that acted through the API (actor is then empty); neither: the engine.
    actor_token = models.ForeignKey(
        "tenancy.ApiToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True, max_length=2000)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["alert", "at"])]


class EvaluationState(TenantModel):
    """Where a restarted worker finds the streaming evaluation of one subject: the cursor (the
    newest fix evaluated, so older fixes arriving late are never evaluated) and each rule's
    partial episode (e.g. speeding since t with peak p, not yet long enough to alert)."""

    subject_type = models.CharField(max_length=8, choices=SubjectType.choices)
    subject_id = models.BigIntegerField()
    cursor_fix_time = models.DateTimeField(null=True, blank=True)
    # {"<rule id>": {...the kind's state...}}
    state = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "subject_type", "subject_id"],
                name="evaluation_state_one_per_subject",
            )
        ]


class Holiday(TenantModel):
    """A day off for rules with `holidays_off`, in the organization's calendar."""

    date = models.DateField()
    name = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "date"], name="holiday_one_per_date")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class NotificationPreference(TenantModel):
    """One person's say over what reaches them and when."""

    class EmailMode(models.TextChoices):
        IMMEDIATE = "immediate", "One email per alert"
        DIGEST = "digest", "A daily digest"
        OFF = "off", "No email"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email_mode = models.CharField(
        max_length=10, choices=EmailMode.choices, default=EmailMode.IMMEDIATE
    )
    min_severity = models.PositiveSmallIntegerField(
        choices=Severity.choices, default=Severity.WARNING
    )
    # Quiet hours in the organization's time zone; emails wait for their end (critical ones
    # excepted when `quiet_hours_allow_critical`).
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    quiet_hours_allow_critical = models.BooleanField(default=True)
    digest_hour = models.PositiveSmallIntegerField(default=7)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="notification_preference_one_per_user"
            )
        ]


class Notification(TenantModel):
    """One message to one person (or one webhook delivery marker) about one alert, or one
    grouped message about an alert storm."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed"
        DIGESTED = "digested", "In a digest"

    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The idempotency key: a task that runs twice creates (and sends) one message.
    key = models.CharField(max_length=160)
    subject = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    send_after = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="notification_key_unique")
        ]
        indexes = [
            models.Index(fields=["organization", "recipient", "read_at"]),
            models.Index(fields=["organization", "status", "send_after"]),
        ]
