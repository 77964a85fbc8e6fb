"""Console forms of the deliveries app: create one order, upload an order file."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet

from fleet.models import Hub

from .models import Order
from .services.imports import MAX_BYTES


class HubChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Hub) -> str:
        return f"{obj.name} ({obj.code})"


class OrderForm(forms.Form):
    """What a dispatcher types in for one order; order_create makes the same checks again."""

    reference = forms.CharField(max_length=64)
    customer_name = forms.CharField(max_length=120, label="Customer name")
    phone = forms.CharField(max_length=32, required=False)
    email = forms.EmailField(required=False)
    address = forms.CharField(max_length=255)
    latitude = forms.FloatField(required=False, min_value=-90, max_value=90)
    longitude = forms.FloatField(required=False, min_value=-180, max_value=180)
    # Naive inputs: the view reads them in the organization's time zone.
    window_start = forms.DateTimeField(
        required=False,
        label="Window from",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    window_end = forms.DateTimeField(
        required=False,
        label="Window to",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    service_minutes = forms.IntegerField(
        min_value=0, max_value=240, initial=5, label="Service time (min)"
    )
    priority = forms.TypedChoiceField(
        choices=Order.Priority.choices, coerce=int, initial=Order.Priority.NORMAL
    )
    weight_kg = forms.FloatField(min_value=0, initial=0, label="Weight (kg)")
    volume_l = forms.FloatField(min_value=0, initial=0, label="Volume (l)")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    hub = HubChoiceField(queryset=Hub.objects.none())

    def __init__(self, *args: Any, hubs: QuerySet[Hub], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hub_field = self.fields["hub"]
        assert isinstance(hub_field, HubChoiceField)
        hub_field.queryset = hubs
        if len(hubs) == 1:
            hub_field.initial = hubs[0].pk
        if not settings.GEOCODER_URL:  # nothing could place the order later
            required = {
                "latitude": "Coordinates are required: no geocoder is configured.",
                "longitude": "Give the longitude too.",
            }
            for name, message in required.items():
                self.fields[name].required = True
                self.fields[name].error_messages["required"] = message

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.has_error("latitude") or self.has_error("longitude"):
            return cleaned
        given = [cleaned.get(name) is not None for name in ("latitude", "longitude")]
        if any(given) and not all(given):
            self.add_error("latitude", "Give both latitude and longitude, or neither.")
        elif not any(given) and not settings.GEOCODER_URL:
            self.add_error("latitude", "Coordinates are required: no geocoder is configured.")
        return cleaned


class OrderImportForm(forms.Form):
    file = forms.FileField(
        help_text=f"CSV or XLSX, up to {MAX_BYTES // (1024 * 1024)} MB and 10,000 rows."
    )
    default_hub = HubChoiceField(
        queryset=Hub.objects.none(),
        required=False,
        label="Hub for rows without one",
        empty_label="None: every row names its hub",
    )

    def __init__(self, *args: Any, hubs: QuerySet[Hub], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hub_field = self.fields["default_hub"]
        assert isinstance(hub_field, HubChoiceField)
        hub_field.queryset = hubs

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it."
            )
        if not upload.name.lower().endswith((".csv", ".xlsx", ".txt")):
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        return upload
