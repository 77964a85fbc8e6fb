"""Order reads: the lookup, one order, its current stop and its timeline. Every function takes the organization, checks that the caller
entered its tenant context (`require_organization`) and filters by it; none enters a context.
QuerySets come back lazy: the caller evaluates them inside the same context."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import QueryDict

from tenancy.context import require_organization
from tenancy.db.rows import RowReader

from ..filtersets import OrderFilterSet
from ..models import DeliveryEvent, FailureReason, Order, Stop


def order_list(*, organization_id: int, hub_ids: list[int] | None = None) -> QuerySet[Order]:
    """The organization's orders (of `hub_ids` only, when given), newest first."""
    require_organization(organization_id)
    orders = Order.objects.filter(organization_id=organization_id).select_related("hub")
    if hub_ids:
        orders = orders.filter(hub_id__in=hub_ids)
    return orders


SEARCH_MIN_LENGTH = 3


@dataclass
class OrderLookup:
    filterset: OrderFilterSet
    orders: QuerySet[Order]  # valid only when filterset.is_valid()
    short_query: bool  # the search text was too short for anything but an exact handle


def order_lookup(
    *, organization_id: int, hub_ids: list[int] | None, data: QueryDict
) -> OrderLookup:
    """The support lookup's search: the FilterSet shared with the API, newest orders first."""
    orders = order_list(organization_id=organization_id, hub_ids=hub_ids)
    query = data.get("q", "").strip()
    short_query = 0 < len(query) < SEARCH_MIN_LENGTH
    if short_query:
        # The trigram indexes need three characters; shorter input can only be an exact handle
        # (a substring search for it would read every order of the organization).
        data = data.copy()
        del data["q"]
        orders = orders.filter(Q(reference=query) | Q(tracking_code=query))
    filterset = OrderFilterSet(data, queryset=orders)
    # Newest first by id (ids grow with creation): PostgreSQL can walk the primary key backwards
    # and stop at the 50th match of a broad query instead of sorting all of its matches.
    return OrderLookup(filterset, filterset.qs.order_by("-id"), short_query)


# The API's order detail and every order action read one order: SQL built once
# (tenancy/db/rows.py), the same order and hub as order_list's.
_ORDER_WITH_HUB = RowReader(
    Order, where="row.organization_id = %s AND row.id = %s", related=("hub",)
)


def order_get(*, organization_id: int, order_id: int, hub_ids: list[int] | None = None) -> Order:
    """One order of the organization (with its hub); raises Order.DoesNotExist for a foreign
    id, or one outside `hub_ids` when given."""
    if hub_ids:
        return order_list(organization_id=organization_id, hub_ids=hub_ids).get(pk=order_id)
    require_organization(organization_id)
    order = _ORDER_WITH_HUB.get(organization_id, order_id)
    if order is None:
        raise Order.DoesNotExist("Order matching query does not exist.")
    return order


def order_find(
    *,
    organization_id: int,
    reference: str | None = None,
    tracking_code: str | None = None,
    hub_ids: list[int] | None = None,
) -> Order:
    """The organization's order with this reference or tracking code (exact; give one);
    raises Order.DoesNotExist when it has none, whichever organization has one."""
    orders = order_list(organization_id=organization_id, hub_ids=hub_ids)
    if reference is not None:
        return orders.get(reference=reference)
    if tracking_code is not None:
        return orders.get(tracking_code=tracking_code)
    raise Order.DoesNotExist("Give a reference or a tracking code.")


def order_stop_current(*, organization_id: int, order_id: int) -> Stop | None:
    """The order's stop on its latest route, with the route's driver, vehicle and the vehicle's
    last known state (one query), or None while the order is not planned."""
    require_organization(organization_id)
    return (
        Stop.objects.filter(organization_id=organization_id, order_id=order_id)
        .select_related("route__driver", "route__vehicle__state")
        .order_by("-route__date", "-route_id")
        .first()
    )


def order_event_list(*, organization_id: int, order_id: int) -> QuerySet[DeliveryEvent]:
    """An order's timeline, oldest first."""
    require_organization(organization_id)
    return DeliveryEvent.objects.filter(
        organization_id=organization_id, order_id=order_id
    ).select_related("actor", "failure_reason")


def failure_reason_list(*, organization_id: int) -> QuerySet[FailureReason]:
    require_organization(organization_id)
    return FailureReason.objects.filter(organization_id=organization_id, active=True)
