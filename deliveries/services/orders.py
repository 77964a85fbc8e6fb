"""Order writes: create an order and move it through its state machine, each with its
timeline event and outbox event in the same transaction. The caller has entered the
organization's tenant context; each service checks it (`require_organization`) and filters by
the organization itself."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from fleet.models import Hub
from tenancy.context import require_organization
from tenancy.errors import Conflict
from tenancy.models import TenantModel

from ..models import DeliveryEvent, FailureReason, Order, OrderStatus, Route, Stop
from ..models.orders import ORDER_DATA_FIELDS, tracking_code_new
from ..outbox import order_events_emit, order_updated_emit
from ..transitions import InvalidTransition, transition_check
from .eta import route_etas_refresh_on_commit

Source = DeliveryEvent.Source
S = OrderStatus


def owned_check(model: type[TenantModel], *, organization_id: int, pk: int, field: str) -> None:
    """ValidationError on `field` unless the organization has a `model` row `pk`: an id from a
    form or an API body is the client's word, and another organization's id must not pass."""
    if not model._default_manager.filter(organization_id=organization_id, pk=pk).exists():
        label = model._meta.verbose_name
        raise ValidationError({field: f"No such {label} in this organization."})


def position_check(latitude: float | None, longitude: float | None) -> None:
    if (latitude is None) != (longitude is None):
        raise ValidationError({"latitude": "Give both latitude and longitude, or neither."})
    if latitude is not None and not -90 <= latitude <= 90:
        raise ValidationError({"latitude": "Latitude must be between -90 and 90."})
    if longitude is not None and not -180 <= longitude <= 180:
        raise ValidationError({"longitude": "Longitude must be between -180 and 180."})


def window_check(window_start: dt.datetime | None, window_end: dt.datetime | None) -> None:
    for name, value in (("window_start", window_start), ("window_end", window_end)):
        if value is not None and timezone.is_naive(value):
            raise ValidationError({name: "Give a time zone (an aware date and time)."})
    if window_start and window_end and window_end <= window_start:
        raise ValidationError({"window_end": "The window must end after it starts."})


def coordinates_required_check(latitude: float | None, longitude: float | None) -> None:
    """Without a geocoder nothing could ever place an order given without coordinates, so it
    could never be routed: refuse it at the door (the console and the import do the same)."""
    if latitude is None and longitude is None and not settings.GEOCODER_URL:
        raise ValidationError({"latitude": "Coordinates are required: no geocoder is configured."})


def order_create(
    *,
    organization_id: int,
    hub_id: int,
    reference: str,
    customer_name: str,
    address: str,
    phone: str = "",
    email: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    window_start: dt.datetime | None = None,
    window_end: dt.datetime | None = None,
    service_minutes: int = 5,
    priority: int = Order.Priority.NORMAL,
    weight_kg: float = 0,
    volume_l: float = 0,
    notes: str = "",
    actor: AbstractBaseUser | None = None,
    source: str = Source.SYSTEM,
) -> Order:
    """Create an order with a fresh tracking code and its first timeline event, `created`."""
    require_organization(organization_id)
    position_check(latitude, longitude)
    window_check(window_start, window_end)
    owned_check(Hub, organization_id=organization_id, pk=hub_id, field="hub")
    order = Order(
        organization_id=organization_id,
        hub_id=hub_id,
        reference=(reference or "").strip(),
        tracking_code=tracking_code_new(),
        customer_name=(customer_name or "").strip(),
        address=(address or "").strip(),
        phone=(phone or "").strip(),
        email=(email or "").strip(),
        latitude=latitude,
        longitude=longitude,
        window_start=window_start,
        window_end=window_end,
        service_minutes=service_minutes,
        priority=priority,
        weight_kg=weight_kg,
        volume_l=volume_l,
        notes=notes or "",
    )
    order.full_clean(exclude=["organization", "hub", "tracking_code"])
    if Order.objects.filter(organization_id=organization_id, reference=order.reference).exists():
        raise ValidationError({"reference": "An order with this reference already exists."})
    try:
        with transaction.atomic():
            order.save()
            DeliveryEvent.objects.create(
                organization_id=organization_id,
                order=order,
                from_status="",
                to_status=OrderStatus.CREATED,
                actor=actor,
                source=source,
            )
            order_events_emit(order=order, from_status=None)
    except IntegrityError as exc:
        # Two creations of the same reference raced past full_clean's check.
        raise ValidationError(
            {"reference": "An order with this reference already exists."}
        ) from exc
    return order


def order_transition(
    *,
    organization_id: int,
    order_id: int,
    to_status: str,
    actor: AbstractBaseUser | None,
    source: str,
    reason_code: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    note: str = "",
) -> Order:
    """Move an order to `to_status` and append the event, or raise InvalidTransition.

    Raises Order.DoesNotExist for an id of another organization. The order row is locked for
    the check and the write, so two concurrent identical moves apply once.
    """
    require_organization(organization_id)
    position_check(latitude, longitude)
    if source not in Source.values:
        raise ValidationError({"source": f"Unknown source {source!r}."})
    with transaction.atomic():
        order = Order.objects.select_for_update().get(organization_id=organization_id, pk=order_id)
        reasons = {
            reason.code: reason
            for reason in FailureReason.objects.filter(organization_id=organization_id, active=True)
            if to_status == OrderStatus.FAILED
        }
        transition_check(
            from_status=order.status,
            to_status=to_status,
            reason_code=reason_code,
            reason_codes=reasons.keys(),
        )
        from_status = order.status
        order.status = to_status
        order.save(update_fields=["status", "updated_at"])
        DeliveryEvent.objects.create(
            organization_id=organization_id,
            order=order,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            source=source,
            failure_reason=reasons.get(reason_code) if reason_code else None,
            latitude=latitude,
            longitude=longitude,
            note=note or "",
        )
        order_events_emit(order=order, from_status=from_status)
    return order


# What a client may change on an order (the tracking code is the customer's link: never).
ORDER_UPDATABLE_FIELDS = (*(f for f in ORDER_DATA_FIELDS if f != "tracking_code"), "hub")
# Once the order is out for delivery the driver works from what they were sent; a change then
# is a phone call, not an API write.
ORDER_UPDATABLE_STATUSES = frozenset({S.CREATED, S.ASSIGNED, S.FAILED})
# Fields whose change moves the stop's ETA.
_ETA_FIELDS = frozenset({"latitude", "longitude", "window_start", "window_end", "service_minutes"})


def order_open_stop(organization_id: int, order_id: int) -> Stop | None:
    """The order's stop on a route that is not completed and not yet visited, if any."""
    return (
        Stop.objects.filter(
            organization_id=organization_id, order_id=order_id, actual_arrival__isnull=True
        )
        .exclude(route__status=Route.Status.COMPLETED)
        .first()
    )


def order_update(
    *,
    organization_id: int,
    order_id: int,
    changes: Mapping[str, Any],
    actor: AbstractBaseUser | None = None,
    source: str = Source.SYSTEM,
) -> tuple[Order, list[str]]:
    """Change some of an order's data (a partial update) with the rules of a new order: both
    coordinates or neither, an aware window that ends after it starts, a reference unique in
    the organization, a hub of the organization. Returns the order and the fields that changed.

    Raises Order.DoesNotExist for a foreign id, Conflict for an order already out for delivery
    or finished, ValidationError for a bad value (nothing is written then). The hub may change
    only while the order is on no route. A changed position or window refreshes its route's
    ETAs after commit, and an `order.updated` event names the changed fields.
    """
    require_organization(organization_id)
    unknown = sorted(set(changes) - set(ORDER_UPDATABLE_FIELDS))
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    with transaction.atomic():
        order = Order.objects.select_for_update().get(organization_id=organization_id, pk=order_id)
        if order.status not in ORDER_UPDATABLE_STATUSES:
            raise Conflict(
                f"An order that is {order.get_status_display().lower()} can no longer change.",
                extra={"order_status": order.status},
            )
        changed = [name for name, value in changes.items() if _order_value(order, name) != value]
        stop = order_open_stop(organization_id, order.pk) if changed else None
        for name in changed:
            _order_set(order, name, changes[name])
        if "hub" in changed:
            owned_check(Hub, organization_id=organization_id, pk=order.hub_id, field="hub")
            if stop is not None:
                raise ValidationError({"hub": "The order is on a route: remove its stop first."})
        _order_validate(order, changed)
        if not changed:
            return order, []
        fields = [("hub_id" if name == "hub" else name) for name in changed]
        order.save(update_fields=[*fields, "updated_at"])
        order_updated_emit(order=order, fields=changed)
        if stop is not None and _ETA_FIELDS.intersection(changed):
            route_etas_refresh_on_commit(organization_id=organization_id, route_id=stop.route_id)
    return order, changed


def _order_value(order: Order, name: str) -> Any:
    return order.hub_id if name == "hub" else getattr(order, name)


def _order_set(order: Order, name: str, value: Any) -> None:
    if name == "hub":
        order.hub_id = value
    elif isinstance(value, str):
        setattr(order, name, value.strip() if name != "notes" else value)
    else:
        setattr(order, name, value)


def _order_validate(order: Order, changed: list[str]) -> None:
    position_check(order.latitude, order.longitude)
    if {"latitude", "longitude"} & set(changed):
        coordinates_required_check(order.latitude, order.longitude)
    window_check(order.window_start, order.window_end)
    order.full_clean(exclude=["organization", "hub", "tracking_code"], validate_constraints=False)
    if (
        "reference" in changed
        and Order.objects.filter(organization_id=order.organization_id, reference=order.reference)
        .exclude(pk=order.pk)
        .exists()
    ):
        raise ValidationError({"reference": "An order with this reference already exists."})


__all__ = [
    "ORDER_UPDATABLE_FIELDS",
    "InvalidTransition",
    "coordinates_required_check",
    "order_create",
    "order_transition",
    "order_update",
    "owned_check",
    "position_check",
    "window_check",
]
