"""Console forms of the alerts app: an alert rule (the settings page; the engine's admin form
replaces the parameter editing once it lands) and a person's notification preferences."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib.postgres.forms import SimpleArrayField

from tenancy.models import Role

from .models import AlertRule, Channel, NotificationPreference


class JSONTextField(forms.CharField):
    """A JSON object or list typed as text; a precise form error when it does not parse."""

    def __init__(self, *, expect: type, **kwargs: Any) -> None:
        self.expect = expect
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}))
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, dict | list):
            return json.dumps(value, indent=1)
        return str(value or "")

    def to_python(self, value: Any) -> Any:
        text = (value or "").strip()
        if not text:
            return self.expect()
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from exc
        if not isinstance(parsed, self.expect):
            kind = "an object {…}" if self.expect is dict else "a list […]"
            raise forms.ValidationError(f"Expected {kind}.")
        return parsed


class AlertRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    params = JSONTextField(expect=dict, label="Parameters", help_text='e.g. {"limit_kmh": 90}')
    active_hours = JSONTextField(
        expect=list,
        label="Active hours",
        help_text='Empty: always. e.g. [{"days": [0,1,2,3,4], "start": "07:00", "end": "19:00"}]',
    )
    channels = forms.MultipleChoiceField(
        choices=Channel.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    recipient_roles = forms.MultipleChoiceField(
        choices=[(r, label) for r, label in Role.choices if r != Role.DRIVER],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Notify roles",
    )
    scope_hub_ids = SimpleArrayField(
        forms.IntegerField(min_value=1), required=False, label="Hub ids (scope)"
    )
    recipient_hub_ids = SimpleArrayField(
        forms.IntegerField(min_value=1), required=False, label="Notify members of hubs (ids)"
    )

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "kind",
            "enabled",
            "severity",
            "params",
            "scope_kind",
            "scope_hub_ids",
            "active_hours",
            "holidays_off",
            "min_duration_seconds",
            "cooldown_seconds",
            "channels",
            "recipient_roles",
            "recipient_hub_ids",
            "escalate_after_minutes",
        ]

    def clean_active_hours(self) -> list[Any]:
        hours = self.cleaned_data["active_hours"]
        for item in hours:
            if not isinstance(item, dict) or not {"start", "end"} <= set(item):
                raise forms.ValidationError('Each entry needs "start" and "end" ("HH:MM").')
        return list(hours)


class NotificationPreferenceForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = NotificationPreference
        fields = [
            "email_mode",
            "min_severity",
            "quiet_hours_start",
            "quiet_hours_end",
            "quiet_hours_allow_critical",
            "digest_hour",
        ]
        widgets = {
            "quiet_hours_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_hours_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        labels = {
            "email_mode": "Email",
            "min_severity": "Only alerts at least this severe",
            "quiet_hours_start": "Quiet hours from",
            "quiet_hours_end": "Quiet hours until",
            "quiet_hours_allow_critical": "Critical alerts may interrupt quiet hours",
            "digest_hour": "Digest hour (0-23)",
        }

    def clean_digest_hour(self) -> int:
        hour = self.cleaned_data["digest_hour"]
        if not 0 <= hour <= 23:
            raise forms.ValidationError("An hour of the day: 0 to 23.")
        return int(hour)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("quiet_hours_start"), data.get("quiet_hours_end")
        if (start is None) != (end is None):
            raise forms.ValidationError("Give both ends of the quiet hours, or neither.")
        return data
