from __future__ import annotations

from django import template

from ..models import Route

register = template.Library()

# CSS tone classes of static/css/doorstep.css; "returned_to_hub" shares the "returned" tone.
TONES = {"returned_to_hub": "returned"}


@register.filter
def delivery_tone(status: str) -> str:
    """The `delivery-<tone>` class of a status, for badges and table rows."""
    return f"delivery-{TONES.get(status, status)}"


# A route's status shown in the tone of the order status it corresponds to.
ROUTE_STATUS_TONES: dict[str, str] = {
    Route.Status.PLANNED: "delivery-created",
    Route.Status.DISPATCHED: "delivery-out_for_delivery",
    Route.Status.IN_PROGRESS: "delivery-arrived",
    Route.Status.COMPLETED: "delivery-delivered",
}


@register.filter
def route_tone(status: str) -> str:
    """The `delivery-<tone>` class of a route status."""
    return ROUTE_STATUS_TONES.get(status, "")
