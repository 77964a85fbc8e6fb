from __future__ import annotations

from django import template

register = template.Library()

# CSS tone classes of static/css/doorstep.css; "returned_to_hub" shares the "returned" tone.
TONES = {"returned_to_hub": "returned"}


@register.filter
def delivery_tone(status: str) -> str:
    """The `delivery-<tone>` class of a status, for badges and table rows."""
    return f"delivery-{TONES.get(status, status)}"
