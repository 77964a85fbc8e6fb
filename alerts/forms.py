"""Forms of the alerts app: an alert rule, one form for Django admin and the console's
settings page (its parameters typed per kind: alerts/kinds), and a person's notification
preferences."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from deliveries.models import Route
from fleet.models import Hub, Vehicle, Zone
from tenancy.models import Role

from .evaluation.calendar import windows_parse
from .kinds import KINDS, kind_params, params_json
from .models import AlertRule, Channel, NotificationPreference

SCOPE_FIELDS = {
    AlertRule.ScopeKind.HUBS: "scope_hub_ids",
    AlertRule.ScopeKind.ZONES: "scope_zone_ids",
    AlertRule.ScopeKind.VEHICLES: "scope_vehicle_ids",
    AlertRule.ScopeKind.TAGS: "scope_tags",
    AlertRule.ScopeKind.ROUTES: "scope_route_ids",
}


def _ids(label: str) -> forms.TypedMultipleChoiceField:
    return forms.TypedMultipleChoiceField(
        label=label, coerce=int, required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )


class AlertRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    scope_hub_ids = _ids("Hubs")
    scope_zone_ids = _ids("Zones")
    scope_vehicle_ids = _ids("Vehicles")
    scope_route_ids = _ids("Routes")
    recipient_hub_ids = _ids("Recipients' hubs")
    scope_tags = forms.CharField(
        label="Vehicle tags", required=False, help_text="Comma-separated, e.g. express, cold."
    )
    channels = forms.MultipleChoiceField(
        choices=Channel.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    recipient_roles = forms.MultipleChoiceField(
        choices=Role.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = AlertRule
        exclude: list[str] = []  # every field; the admin's fieldsets order them
        help_texts = {
            "params": "The kind's parameters as JSON; missing ones take their defaults.",
            "active_hours": 'e.g. [{"days": [0, 1, 2, 3, 4], "start": "07:00", "end": "19:00"}]; '
            "empty: always. Times are the organization's.",
        }

    def __init__(self, *args: Any, organization_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope_tags"].initial = ", ".join(self.instance.scope_tags or [])
        if organization_id is not None:
            self.scope_choices(organization_id)
        kinds = "; ".join(f"{spec.label}: {spec.description}" for spec in KINDS.values())
        self.fields["kind"].help_text = kinds

    def _choose(self, name: str, choices: list[tuple[int, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def scope_choices(self, organization_id: int) -> None:
        hubs = [(h.pk, str(h)) for h in Hub.objects.filter(organization_id=organization_id)]
        self._choose("scope_hub_ids", hubs)
        self._choose("recipient_hub_ids", hubs)
        self._choose(
            "scope_zone_ids",
            [
                (z.pk, f"{z.name} ({z.get_kind_display()})")
                for z in Zone.objects.filter(organization_id=organization_id)
            ],
        )
        self._choose(
            "scope_vehicle_ids",
            [(v.pk, str(v)) for v in Vehicle.objects.filter(organization_id=organization_id)],
        )
        since = timezone.localdate() - dt.timedelta(days=7)
        routes = Route.objects.filter(organization_id=organization_id, date__gte=since)
        self._choose(
            "scope_route_ids",
            [(r.pk, str(r)) for r in routes.select_related("hub").order_by("-date", "pk")[:500]],
        )

    def clean_scope_tags(self) -> list[str]:
        raw = self.cleaned_data.get("scope_tags") or ""
        tags = [t.strip() for t in raw.split(",") if t.strip()]
        if any(len(t) > 32 for t in tags):
            raise ValidationError("A tag has at most 32 characters.")
        return tags

    def clean_active_hours(self) -> Any:
        value = self.cleaned_data.get("active_hours") or []
        try:
            windows_parse(value)
        except ValidationError as error:
            raise ValidationError(error.message_dict.get("active_hours", error.messages)) from None
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind:
            try:
                data["params"] = params_json(kind_params(kind, data.get("params") or {}))
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    for message in messages:
                        self.add_error("params", f"{name}: {message}")
        scope = data.get("scope_kind")
        field = SCOPE_FIELDS.get(AlertRule.ScopeKind(scope)) if scope in SCOPE_FIELDS else None
        if field and not data.get(field):
            self.add_error(field, "Pick at least one for this scope.")
        return data


class AlertRuleSettingsForm(AlertRuleForm):
    """The console's settings page: the same form as Django admin (typed per-kind parameters,
    one error per bad parameter, the organization's own scope choices), without the
    organization, which is always the admin's own."""

    class Meta(AlertRuleForm.Meta):
        fields = [
            "name", "kind", "enabled", "severity", "params",
            "scope_kind", "scope_hub_ids", "scope_zone_ids", "scope_vehicle_ids", "scope_tags",
            "scope_route_ids",
            "active_hours", "holidays_off", "min_duration_seconds", "cooldown_seconds",
            "channels", "recipient_roles", "recipient_hub_ids", "escalate_after_minutes",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # On a console page the admin's list of every kind's description is a wall of text:
        # say what this rule's kind takes instead.
        self.fields["kind"].help_text = "What the rule watches."
        self.fields["params"].label = "Parameters"
        kind = self.instance.kind if self.instance.pk else None
        if kind in KINDS:
            defaults = params_json(kind_params(kind, {}))
            listed = ", ".join(f"{name}: {json.dumps(value)}" for name, value in defaults.items())
            self.fields[
                "params"
            ].help_text = f"JSON; missing ones take their defaults ({listed or 'none'})."
        else:
            self.fields["params"].help_text = "JSON; missing ones take the kind's defaults."


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
