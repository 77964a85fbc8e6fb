"""The inbox's filters: one form validates the query string into `AlertFilters` (the page and
its JSON resync share it, and the page's script applies the same filters to live events)."""

from __future__ import annotations

from typing import Any

from django import forms

from .models import RuleKind, Severity
from .selectors import AGE_FILTERS, STATUS_FILTERS, AlertFilters

STATUS_LABELS = {
    "active": "Needs attention",
    "open": "Open (not acknowledged)",
    "acknowledged": "Acknowledged",
    "snoozed": "Snoozed",
    "resolved": "Resolved",
    "all": "All",
}
AGE_LABELS = {"15m": "Older than 15 min", "1h": "Older than 1 h", "4h": "Older than 4 h",
              "24h": "Older than 24 h"}  # fmt: skip


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(value, STATUS_LABELS[value]) for value in STATUS_FILTERS], required=False
    )
    severity = forms.TypedMultipleChoiceField(choices=Severity.choices, coerce=int, required=False)
    kind = forms.MultipleChoiceField(choices=RuleKind.choices, required=False)
    hub = forms.TypedMultipleChoiceField(choices=[], coerce=int, required=False)
    assignee = forms.ChoiceField(choices=[], required=False)
    age = forms.ChoiceField(
        choices=[("", "Any age"), *((key, AGE_LABELS[key]) for key in AGE_FILTERS)],
        required=False,
    )

    def __init__(
        self,
        data: Any,
        *,
        hubs: list[tuple[int, str]],
        assignees: list[tuple[int, str]],
    ) -> None:
        super().__init__(data)
        hub_field = self.fields["hub"]
        assert isinstance(hub_field, forms.TypedMultipleChoiceField)
        hub_field.choices = hubs
        assignee_field = self.fields["assignee"]
        assert isinstance(assignee_field, forms.ChoiceField)
        assignee_field.choices = [
            ("", "Anyone"),
            ("me", "Assigned to me"),
            ("none", "Unassigned"),
            *((str(pk), name) for pk, name in assignees),
        ]

    def filters(self) -> AlertFilters:
        data = self.cleaned_data
        return AlertFilters(
            status=data.get("status") or "active",
            severities=tuple(data.get("severity") or ()),
            kinds=tuple(data.get("kind") or ()),
            hub_ids=tuple(data.get("hub") or ()),
            assignee=data.get("assignee") or "",
            older_than_minutes=AGE_FILTERS.get(data.get("age") or ""),
        )

    def as_json(self) -> dict[str, Any]:
        """The filters as the page's script matches live events against them."""
        filters = self.filters()
        return {
            "status": filters.status,
            "severities": list(filters.severities),
            "kinds": list(filters.kinds),
            "hubIds": list(filters.hub_ids),
            "assignee": filters.assignee,
            "olderThanMinutes": filters.older_than_minutes,
        }
