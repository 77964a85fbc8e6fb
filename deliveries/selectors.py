"""Reads of delivery data. Every function takes the organization and runs inside its scope."""

from __future__ import annotations

from django.db.models import QuerySet
from django_scopes import scope, scopes_disabled

from .models import ApiToken, DeliveryEvent, FailureReason, Order


def order_list(*, organization_id: int, hub_ids: list[int] | None = None) -> QuerySet[Order]:
    """The organization's orders (of `hub_ids` only, when given), newest first."""
    with scope(organization=organization_id):
        orders = Order.objects.select_related("hub")
        if hub_ids:
            orders = orders.filter(hub_id__in=hub_ids)
        return orders


def order_get(*, organization_id: int, order_id: int, hub_ids: list[int] | None = None) -> Order:
    """One order of the organization; raises Order.DoesNotExist for a foreign id."""
    return order_list(organization_id=organization_id, hub_ids=hub_ids).get(pk=order_id)


def order_event_list(*, organization_id: int, order_id: int) -> QuerySet[DeliveryEvent]:
    """An order's timeline, oldest first."""
    with scope(organization=organization_id):
        return DeliveryEvent.objects.filter(order_id=order_id).select_related(
            "actor", "failure_reason"
        )


def failure_reason_list(*, organization_id: int) -> QuerySet[FailureReason]:
    with scope(organization=organization_id):
        return FailureReason.objects.filter(active=True)


def api_token_for_key(*, token_hash: str) -> ApiToken | None:
    """The active token with this hash, of whichever organization owns it."""
    # The token is what tells us the organization, so this one lookup runs before any scope.
    with scopes_disabled():
        return (
            ApiToken.objects.select_related("organization")
            .filter(token_hash=token_hash, active=True)
            .first()
        )
