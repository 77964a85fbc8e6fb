"""Batch order creation: up to 1,000 orders in one call, each item judged on its own.

An integrator's nightly feed must not fail as a whole for one bad row, so every item gets its
own outcome: created, invalid (its field errors) or duplicate (the reference exists already,
with the existing order's id). The rules are order_create's, checked in memory; the valid
items are then written together (orders, their `created` timeline events and `order.created`
outbox events, one bulk insert each), which is what makes 1,000 orders a sub-second call.
Should the bulk insert meet a concurrent writer (a reference created meanwhile), the batch
falls back to one savepoint per item, so a neighbour's clash still fails only that item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from fleet.models import Hub
from tenancy.context import require_organization

from ..models import DeliveryEvent, Order, OrderStatus
from ..models.orders import ORDER_DATA_FIELDS, tracking_code_new
from ..outbox import orders_created_emit
from .orders import coordinates_required_check, order_create, position_check, window_check

BATCH_MAX_ITEMS = 1000
Outcome = Literal["created", "invalid", "duplicate"]


@dataclass
class OrderBatchResult:
    index: int
    outcome: Outcome
    order: Order | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    # For a duplicate: the order that already has the reference.
    existing_id: int | None = None


def _field_errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {name: list(messages) for name, messages in exc.message_dict.items()}
    return {"non_field_errors": list(exc.messages)}


def _order_build(organization_id: int, item: dict[str, Any], hub_ids: set[int]) -> Order:
    """The unsaved order of one item, or ValidationError with its field errors."""
    position_check(item.get("latitude"), item.get("longitude"))
    coordinates_required_check(item.get("latitude"), item.get("longitude"))
    window_check(item.get("window_start"), item.get("window_end"))
    if item["hub"] not in hub_ids:
        raise ValidationError({"hub": "No such hub in this organization."})
    values = {name: value for name, value in item.items() if name != "hub"}
    for name in ("reference", "customer_name", "address", "phone", "email"):
        if isinstance(values.get(name), str):
            values[name] = values[name].strip()
    order = Order(
        organization_id=organization_id,
        hub_id=item["hub"],
        tracking_code=tracking_code_new(),
        **values,
    )
    # The constraints are the checks above (window) and the reference lookup below, done for
    # the whole batch in one query instead of one query per item.
    order.full_clean(
        exclude=["organization", "hub", "tracking_code"],
        validate_unique=False,
        validate_constraints=False,
    )
    return order


def references_taken(organization_id: int, references: list[str]) -> dict[str, int]:
    """reference -> id of the organization's orders that already have one of `references`."""
    orders = Order.objects.filter(organization_id=organization_id, reference__in=references)
    return dict(orders.values_list("reference", "pk"))


def orders_create_batch(
    *,
    organization_id: int,
    items: Sequence[tuple[int, dict[str, Any]]],
    actor: AbstractBaseUser | None = None,
    source: str = DeliveryEvent.Source.API,
    hub_ids: list[int] | None = None,
) -> list[OrderBatchResult]:
    """Create the orders of `items` ((index, fields as order_create takes them, with `hub`)),
    each independently; returns one result per item, in the order given.

    `hub_ids` limits the hubs the caller may use (a hub-scoped console user); a hub outside
    them is refused like a foreign one."""
    require_organization(organization_id)
    if len(items) > BATCH_MAX_ITEMS:
        raise ValidationError(f"A batch holds at most {BATCH_MAX_ITEMS} orders.")
    hubs = Hub.objects.filter(organization_id=organization_id)
    if hub_ids:
        hubs = hubs.filter(pk__in=hub_ids)
    allowed_hubs = set(hubs.values_list("pk", flat=True))
    results: dict[int, OrderBatchResult] = {}
    pending: list[tuple[int, Order]] = []
    first_of: dict[str, int] = {}
    for index, item in items:
        try:
            order = _order_build(organization_id, item, allowed_hubs)
        except ValidationError as exc:
            results[index] = OrderBatchResult(index, "invalid", errors=_field_errors(exc))
            continue
        earlier = first_of.setdefault(order.reference, index)
        if earlier != index:
            message = f"This reference is also item {earlier} of this batch."
            results[index] = OrderBatchResult(index, "invalid", errors={"reference": [message]})
            continue
        pending.append((index, order))
    existing = references_taken(organization_id, [order.reference for _, order in pending])
    fresh = []
    for index, order in pending:
        if order.reference in existing:
            results[index] = OrderBatchResult(
                index,
                "duplicate",
                errors={"reference": ["An order with this reference already exists."]},
                existing_id=existing[order.reference],
            )
        else:
            fresh.append((index, order))
    for index, result in _orders_write(organization_id, fresh, actor=actor, source=source):
        results[index] = result
    return [results[index] for index, _ in items]


def _orders_write(
    organization_id: int,
    fresh: list[tuple[int, Order]],
    *,
    actor: AbstractBaseUser | None,
    source: str,
) -> list[tuple[int, OrderBatchResult]]:
    try:
        with transaction.atomic():
            orders_insert_created(organization_id, [order for _, order in fresh], actor, source)
    except IntegrityError:
        # A concurrent writer took a reference (or a hub went) between the checks and the
        # insert: redo the items one by one, each in its own savepoint.
        return [(index, _order_write_one(index, order, actor, source)) for index, order in fresh]
    return [(index, OrderBatchResult(index, "created", order=order)) for index, order in fresh]


def orders_insert_created(
    organization_id: int, orders: list[Order], actor: AbstractBaseUser | None, source: str
) -> None:
    """Insert new orders with their `created` events and `order.created` outbox events, one
    bulk insert each (the batch API and the import). The caller holds the transaction."""
    if not orders:
        return
    Order.objects.bulk_create(orders, batch_size=BATCH_MAX_ITEMS)
    DeliveryEvent.objects.bulk_create(
        [
            DeliveryEvent(
                organization_id=organization_id,
                order=order,
                from_status="",
                to_status=OrderStatus.CREATED,
                actor_id=actor.pk if actor else None,
                source=source,
            )
            for order in orders
        ],
        batch_size=BATCH_MAX_ITEMS,
    )
    orders_created_emit(organization_id=organization_id, orders=orders)


def _order_write_one(
    index: int, order: Order, actor: AbstractBaseUser | None, source: str
) -> OrderBatchResult:
    values = {name: getattr(order, name) for name in _CREATE_FIELDS}
    try:
        created = order_create(
            organization_id=order.organization_id,
            hub_id=order.hub_id,
            actor=actor,
            source=source,
            **values,
        )
    except ValidationError as exc:
        existing = (
            Order.objects.filter(organization_id=order.organization_id, reference=order.reference)
            .values_list("pk", flat=True)
            .first()
        )
        outcome: Outcome = "duplicate" if existing else "invalid"
        return OrderBatchResult(index, outcome, errors=_field_errors(exc), existing_id=existing)
    return OrderBatchResult(index, "created", order=created)


_CREATE_FIELDS = tuple(name for name in ORDER_DATA_FIELDS if name != "tracking_code")
