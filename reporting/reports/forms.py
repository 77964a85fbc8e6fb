"""The report schedule form, shared by the console's schedules page and Django admin: choices
from the organization's own hubs, zones, vehicles and drivers only, recipients checked."""

from __future__ import annotations

from typing import Any

from django import forms

from fleet.models import Driver, Hub, Vehicle, Zone
from tenancy.errors import InvalidInput

from .models import ReportSchedule
from .registry import KIND_CHOICES
from .services import recipients_parse

ID_FIELDS = {"hub_ids": Hub, "zone_ids": Zone, "vehicle_ids": Vehicle, "driver_ids": Driver}


def _ids(label: str) -> forms.TypedMultipleChoiceField:
    return forms.TypedMultipleChoiceField(
        label=label, coerce=int, required=False, widget=forms.SelectMultiple(attrs={"size": 5})
    )


class ReportScheduleForm(forms.ModelForm):  # type: ignore[type-arg]
    kind = forms.ChoiceField(choices=KIND_CHOICES, label="Report")
    hub_ids = _ids("Hubs")
    zone_ids = _ids("Zones")
    vehicle_ids = _ids("Vehicles")
    driver_ids = _ids("Drivers")

    class Meta:
        model = ReportSchedule
        fields = [
            "name", "kind", "frequency", "file_format", "recipients",
            "hub_ids", "zone_ids", "vehicle_ids", "driver_ids", "enabled",
        ]  # fmt: skip
        widgets = {"recipients": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, organization_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if organization_id is not None:
            self.scope_choices(organization_id)

    def scope_choices(self, organization_id: int) -> None:
        for name, model in ID_FIELDS.items():
            rows = model.objects.filter(organization_id=organization_id)  # type: ignore[attr-defined]
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [(row.pk, str(row)) for row in rows]

    def clean_recipients(self) -> str:
        try:
            return "\n".join(recipients_parse(self.cleaned_data.get("recipients", "")))
        except InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None
