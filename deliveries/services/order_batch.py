"""Batch order creation: up to 1,000 orders in one call, each item judged on its own.

An integrator's nightly feed must not fail as a whole for one bad row, so every item gets its
own outcome: created, invalid (its field errors) or duplicate (the reference exists already,
with the existing order's id). The rules are order_create's, checked in memory on plain values
(no model instance per item: building and full_clean-ing 1,000 of them was most of the call);
the references are checked against the organization's orders in one query; the valid items are
then written by one SQL statement: the orders, their `created` timeline events and their
`order.created` outbox events, together, in the caller's transaction (BATCH_INSERT_SQL).
Should the insert meet a concurrent writer (a reference created meanwhile), the batch falls back
to one savepoint per item, so a neighbour's clash still fails only that item.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from fleet.models import Hub
from tenancy.context import require_organization
from tenancy.outbox.services import outbox_relay_on_commit

from ..models import DeliveryEvent, Order, OrderStatus
from ..models.orders import ORDER_DATA_FIELDS, tracking_code_new
from ..outbox import ORDER_CREATED, orders_created_emit
from .orders import coordinates_required_check, order_create, position_check, window_check

BATCH_MAX_ITEMS = 1000
Outcome = Literal["created", "invalid", "duplicate"]

# The text fields order_create strips, with the model's limits (read once from the model).
_STRIPPED = ("reference", "customer_name", "address", "phone", "email")


def _text_limit(name: str) -> tuple[int | None, bool]:
    model_field = Order._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    return model_field.max_length, model_field.blank


_TEXT_LIMITS = {name: _text_limit(name) for name in (*_STRIPPED, "notes")}
_PRIORITIES = frozenset(Order.Priority.values)
_DEFAULTS: dict[str, Any] = {
    "phone": "",
    "email": "",
    "latitude": None,
    "longitude": None,
    "window_start": None,
    "window_end": None,
    "service_minutes": 5,
    "priority": Order.Priority.NORMAL,
    "weight_kg": 0.0,
    "volume_l": 0.0,
    "notes": "",
}


@dataclass(frozen=True)
class CreatedOrder:
    id: int
    reference: str
    tracking_code: str


@dataclass
class OrderBatchResult:
    index: int
    outcome: Outcome
    order: CreatedOrder | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    # For a duplicate: the order that already has the reference.
    existing_id: int | None = None


def _field_errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {name: list(messages) for name, messages in exc.message_dict.items()}
    return {"non_field_errors": list(exc.messages)}


def _texts_check(values: dict[str, Any]) -> None:
    for name, (max_length, blank) in _TEXT_LIMITS.items():
        value = values[name]
        if not isinstance(value, str):
            raise ValidationError({name: "Must be text."})
        if "\x00" in value:  # PostgreSQL text holds no NUL character
            raise ValidationError({name: "Null characters are not allowed."})
        if not value and not blank:
            raise ValidationError({name: "This field cannot be blank."})
        if max_length is not None and len(value) > max_length:
            raise ValidationError({name: f"At most {max_length} characters."})
    if values["email"]:
        validate_email(values["email"])


def _numbers_check(values: dict[str, Any]) -> None:
    minutes = values["service_minutes"]
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 240:
        raise ValidationError({"service_minutes": "Between 0 and 240 minutes."})
    if values["priority"] not in _PRIORITIES:
        raise ValidationError({"priority": "Not a priority."})
    for name in ("weight_kg", "volume_l"):
        if isinstance(values[name], bool) or not isinstance(values[name], int | float):
            raise ValidationError({name: "Must be a number."})
        if values[name] < 0:
            raise ValidationError({name: "Must be 0 or more."})


def order_values_build(item: dict[str, Any], hub_ids: set[int]) -> dict[str, Any]:
    """The checked column values of one item (order_create's rules), or ValidationError with
    its field errors. The reference's uniqueness is checked for the whole batch at once."""
    unknown = set(item) - set(_DEFAULTS) - {"reference", "customer_name", "address", "hub"}
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    values = {**_DEFAULTS, **item}
    for name in ("reference", "customer_name", "address"):
        if name not in item:
            raise ValidationError({name: "This field is required."})
    position_check(values["latitude"], values["longitude"])
    coordinates_required_check(values["latitude"], values["longitude"])
    window_check(values["window_start"], values["window_end"])
    if values.pop("hub", None) not in hub_ids:
        raise ValidationError({"hub": "No such hub in this organization."})
    for name in _STRIPPED:
        if isinstance(values[name], str):
            values[name] = values[name].strip()
    values["notes"] = values["notes"] or ""
    _texts_check(values)
    _numbers_check(values)
    values["hub_id"] = item["hub"]
    return values


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
    pending: list[tuple[int, dict[str, Any]]] = []
    first_of: dict[str, int] = {}
    for index, item in items:
        try:
            values = order_values_build(item, allowed_hubs)
        except ValidationError as exc:
            results[index] = OrderBatchResult(index, "invalid", errors=_field_errors(exc))
            continue
        earlier = first_of.setdefault(values["reference"], index)
        if earlier != index:
            message = f"This reference is also item {earlier} of this batch."
            results[index] = OrderBatchResult(index, "invalid", errors={"reference": [message]})
            continue
        pending.append((index, values))
    existing = references_taken(organization_id, [values["reference"] for _, values in pending])
    fresh = []
    for index, values in pending:
        if values["reference"] in existing:
            results[index] = OrderBatchResult(
                index,
                "duplicate",
                errors={"reference": ["An order with this reference already exists."]},
                existing_id=existing[values["reference"]],
            )
        else:
            fresh.append((index, values))
    for index, result in _orders_write(organization_id, fresh, actor=actor, source=source):
        results[index] = result
    return [results[index] for index, _ in items]


def _orders_write(
    organization_id: int,
    fresh: list[tuple[int, dict[str, Any]]],
    *,
    actor: AbstractBaseUser | None,
    source: str,
) -> list[tuple[int, OrderBatchResult]]:
    if not fresh:
        return []
    try:
        with transaction.atomic():
            created = orders_insert_rows(
                organization_id, [values for _, values in fresh], actor=actor, source=source
            )
    except IntegrityError:
        # A concurrent writer took a reference (or a hub went) between the checks and the
        # insert: redo the items one by one, each in its own savepoint.
        return [
            (index, _order_write_one(organization_id, index, values, actor, source))
            for index, values in fresh
        ]
    return [
        (index, OrderBatchResult(index, "created", order=created[values["reference"]]))
        for index, values in fresh
    ]


# One statement for the whole batch: the orders from one JSON parameter (jsonb_to_recordset is
# one bind and one parse, where a VALUES list binds 20 parameters per order), then their
# `created` timeline events and their `order.created` outbox events from the inserted rows.
# The outbox payload is order_event_payload()'s for a new order (tests/deliveries/api/
# test_order_writes.py compares them); its datetimes are the ISO texts Python formats.
BATCH_INSERT_SQL = """
WITH item AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS item(
        reference text, tracking_code text, customer_name text, phone text, email text,
        address text, latitude float8, longitude float8, window_start timestamptz,
        window_end timestamptz, service_minutes int, priority int, weight_kg float8,
        volume_l float8, notes text, hub_id bigint, position int,
        window_start_iso text, window_end_iso text)
), created AS (
    INSERT INTO deliveries_order (
        organization_id, reference, tracking_code, customer_name, phone, email, address,
        latitude, longitude, window_start, window_end, service_minutes, priority, weight_kg,
        volume_l, notes, hub_id, status, created_at, updated_at)
    SELECT %(organization_id)s, reference, tracking_code, customer_name, phone, email, address,
        latitude, longitude, window_start, window_end, service_minutes, priority, weight_kg,
        volume_l, notes, hub_id, %(status)s, %(now)s, %(now)s
    FROM item ORDER BY position
    RETURNING id, reference, tracking_code
), timeline AS (
    INSERT INTO deliveries_deliveryevent (
        organization_id, order_id, from_status, to_status, at, actor_id, source, note)
    SELECT %(organization_id)s, id, '', %(status)s, %(now)s, %(actor_id)s, %(source)s, ''
    FROM created
), outbox AS (
    INSERT INTO tenancy_outboxevent (
        organization_id, kind, aggregate, aggregate_id, payload, occurred_at, next_attempt_at)
    SELECT %(organization_id)s, %(kind)s, 'order', created.id,
        jsonb_build_object('order', jsonb_build_object(
            'id', created.id, 'reference', created.reference,
            'tracking_code', created.tracking_code, 'status', %(status)s,
            'window_start', item.window_start_iso, 'window_end', item.window_end_iso,
            'eta', NULL, 'created_at', %(now_iso)s, 'updated_at', %(now_iso)s)),
        %(now)s, %(now)s
    FROM created JOIN item USING (reference)
    ORDER BY item.position
)
SELECT id, reference, tracking_code FROM created
"""


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def orders_insert_rows(
    organization_id: int,
    rows: list[dict[str, Any]],
    *,
    actor: AbstractBaseUser | None,
    source: str,
) -> dict[str, CreatedOrder]:
    """Insert checked orders (order_values_build's values, references unique) with their
    `created` events and `order.created` outbox events; reference -> the created order. Must
    run inside the caller's transaction (the outbox's rule: the events commit with the orders)."""
    if not connection.in_atomic_block:
        raise RuntimeError("orders_insert_rows must run inside the transaction of the change")
    now = timezone.now()
    payload = [
        {
            **{name: values[name] for name in _COLUMNS},
            "tracking_code": tracking_code_new(),
            "window_start": _iso(values["window_start"]),
            "window_end": _iso(values["window_end"]),
            "window_start_iso": _iso(values["window_start"]),
            "window_end_iso": _iso(values["window_end"]),
            "position": position,
        }
        for position, values in enumerate(rows)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            BATCH_INSERT_SQL,
            {
                "rows": json.dumps(payload),
                "organization_id": organization_id,
                "status": OrderStatus.CREATED.value,
                "now": now,
                "now_iso": now.isoformat(),
                "actor_id": actor.pk if actor else None,
                "source": source,
                "kind": ORDER_CREATED,
            },
        )
        created = {row[1]: CreatedOrder(*row) for row in cursor.fetchall()}
    outbox_relay_on_commit(organization_id)
    return created


def orders_insert_created(
    organization_id: int, orders: list[Order], actor: AbstractBaseUser | None, source: str
) -> None:
    """Insert new orders with their `created` events and `order.created` outbox events, one
    bulk insert each (the import, which holds model instances). The caller holds the
    transaction."""
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
    organization_id: int,
    index: int,
    values: dict[str, Any],
    actor: AbstractBaseUser | None,
    source: str,
) -> OrderBatchResult:
    try:
        created = order_create(
            organization_id=organization_id, actor=actor, source=source, **values
        )
    except ValidationError as exc:
        existing = (
            Order.objects.filter(organization_id=organization_id, reference=values["reference"])
            .values_list("pk", flat=True)
            .first()
        )
        outcome: Outcome = "duplicate" if existing else "invalid"
        return OrderBatchResult(index, outcome, errors=_field_errors(exc), existing_id=existing)
    order = CreatedOrder(created.pk, created.reference, created.tracking_code)
    return OrderBatchResult(index, "created", order=order)


_COLUMNS = (*(name for name in ORDER_DATA_FIELDS if name != "tracking_code"), "hub_id")
