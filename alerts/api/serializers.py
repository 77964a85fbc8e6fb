"""Input and output shapes of the alerts API. The output is `alert_snapshot` (the same dict the
outbox events and the inbox screens carry); these serializers describe it for the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from tenancy.api.serializers import AwareDateTimeField, StrictQuerySerializer

from ..models import RuleKind, Severity
from ..selectors import STATUS_FILTERS
from ..services.actions import MAX_SNOOZE, NOTE_MAX_CHARS

BIG_ID = 2**63 - 1


class AlertListQuerySerializer(StrictQuerySerializer):
    """The list's query string; list filters repeat (`?severity=20&severity=30`)."""

    status = serializers.ChoiceField(
        choices=STATUS_FILTERS,
        default="active",
        help_text="active (open or acknowledged, not snoozed; the default), open, acknowledged, "
        "snoozed, resolved or all.",
    )
    severity = serializers.ListField(
        child=serializers.ChoiceField(choices=Severity.choices), required=False
    )
    kind = serializers.ListField(
        child=serializers.ChoiceField(choices=RuleKind.choices), required=False
    )
    hub = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIG_ID), required=False
    )
    vehicle = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=BIG_ID), required=False
    )
    opened_after = serializers.DateTimeField(required=False, help_text="Opened at or after.")
    opened_before = serializers.DateTimeField(required=False, help_text="Opened before.")
    updated_since = AwareDateTimeField(
        required=False,
        help_text="Alerts changed at or after this time (ISO 8601 with a time zone): opened, "
        "updated by the engine, acknowledged, assigned, snoozed, noted, escalated or "
        "resolved. With `status=all` to see the resolved ones too.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        after, before = attrs.get("opened_after"), attrs.get("opened_before")
        if after and before and after >= before:
            raise serializers.ValidationError({"opened_before": ["Must be after opened_after."]})
        return attrs


class AlertSubjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="vehicle, route, order, hub or device.")
    id = serializers.IntegerField()


class AlertOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rule_id = serializers.IntegerField()
    kind = serializers.CharField(help_text="The rule kind, e.g. speeding, vehicle_offline.")
    severity = serializers.IntegerField(help_text="10 info, 20 warning, 30 critical.")
    status = serializers.CharField(help_text="open, acknowledged or resolved.")
    subject = AlertSubjectSerializer()
    subject_label = serializers.CharField()
    title = serializers.CharField()
    hub_id = serializers.IntegerField(allow_null=True)
    vehicle_id = serializers.IntegerField(allow_null=True)
    route_id = serializers.IntegerField(allow_null=True)
    order_id = serializers.IntegerField(allow_null=True)
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    condition_started_at = serializers.DateTimeField()
    opened_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    escalated_at = serializers.DateTimeField(allow_null=True)
    assignee_id = serializers.IntegerField(allow_null=True)
    assignee_name = serializers.CharField()
    snoozed_until = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField(help_text="auto, manual or empty while unresolved.")
    details = serializers.JSONField(help_text="The kind's facts (e.g. peak_kmh).")
    updated_at = serializers.DateTimeField(help_text="When the alert last changed.")


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="opened, acknowledged, ..., or notified.")
    # DRF pops declared fields off the class, so this does not shadow Field.label at runtime.
    label = serializers.CharField()  # type: ignore[assignment]
    actor = serializers.CharField(help_text="Who did it; empty for the engine.")
    note = serializers.CharField()
    details = serializers.JSONField()


class AlertDetailSerializer(AlertOutputSerializer):
    timeline = TimelineEntrySerializer(many=True)


class AlertActionInputSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=NOTE_MAX_CHARS, required=False, allow_blank=True, default=""
    )


class AlertAssignInputSerializer(serializers.Serializer):
    assignee_id = serializers.IntegerField(
        min_value=1, max_value=BIG_ID, allow_null=True,
        help_text="A console user of the organization; null unassigns.",
    )  # fmt: skip


class AlertSnoozeInputSerializer(serializers.Serializer):
    """Exactly one of `until` (a time; null wakes the alert now) and `minutes`."""

    until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Snooze until then (at most 7 days ahead)."
    )
    minutes = serializers.IntegerField(
        required=False, min_value=1, max_value=int(MAX_SNOOZE.total_seconds() // 60),
        help_text="Snooze for this many minutes from now.",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("until" in attrs) == ("minutes" in attrs):
            raise serializers.ValidationError(
                {"until": ["Give either until or minutes (not both)."]}
            )
        now = timezone.now()
        until = attrs.get("until")
        if "minutes" in attrs:
            until = now + dt.timedelta(minutes=attrs["minutes"])
        elif until is not None and until <= now:
            raise serializers.ValidationError({"until": ["Snooze until a time in the future."]})
        elif until is not None and until - now > MAX_SNOOZE:
            raise serializers.ValidationError({"until": ["At most 7 days ahead."]})
        return {"until": until}


class AlertNoteInputSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX_CHARS)


class AlertErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(help_text="e.g. resolved, acknowledged.")
