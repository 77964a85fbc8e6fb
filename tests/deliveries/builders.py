"""Delivery rows of a test organization, built through the real services where one exists."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.utils import timezone
from django_scopes import scope

from deliveries.models import (
    DeliveryEvent,
    FailureReason,
    Order,
    ProofOfDelivery,
    Route,
    Stop,
    WebhookDelivery,
    WebhookEndpoint,
)
from deliveries.services.orders import order_create, order_transition
from fleet.models import Driver, Hub, Vehicle
from tenancy.api.tokens import api_token_create
from tenancy.context import tenant_context
from tenancy.models import ApiToken, Organization

API_TOKEN_SUFFIX = "-api-token-secret-0123456789"


def failure_reasons_create(organization: Organization) -> list[FailureReason]:
    with scope(organization=organization.pk):
        return [
            FailureReason.objects.create(organization=organization, code=code, label=label)
            for code, label in (
                ("not_home", f"{organization.slug} Not home"),
                ("refused", f"{organization.slug} Refused"),
            )
        ]


def order_build(organization: Organization, hub: Hub, **fields: Any) -> Order:
    start = timezone.now().replace(microsecond=0) + dt.timedelta(hours=1)
    values: dict[str, Any] = {
        "reference": "REF-1",
        "customer_name": "Customer",
        "address": "1 Road",
        "phone": "+31 600000000",
        "latitude": hub.latitude + 0.01,
        "longitude": hub.longitude + 0.01,
        "window_start": start,
        "window_end": start + dt.timedelta(hours=2),
    }
    values.update(fields)
    with tenant_context(organization):
        return order_create(organization_id=organization.pk, hub_id=hub.pk, **values)


def order_advance(
    order: Order,
    *statuses: str,
    source: str = DeliveryEvent.Source.SYSTEM,
    failure_reason: str = "not_home",
) -> None:
    """Walk the order through `statuses` with the real transition service (a move to `failed`
    gives `failure_reason`, which must be one of the organization's reasons)."""
    with tenant_context(order.organization_id):
        for status in statuses:
            order_transition(
                organization_id=order.organization_id,
                order_id=order.pk,
                to_status=status,
                actor=None,
                source=source,
                reason_code=failure_reason if status == "failed" else None,
            )


def tenant_deliveries_build(
    label: str, organization: Organization, hub: Hub, vehicle: Vehicle, driver: Driver
) -> tuple[Order, dict[type, Any]]:
    """One order (with its `created` event), failure reasons, a route with a stop, a token."""
    reasons = failure_reasons_create(organization)
    order = order_build(
        organization,
        hub,
        reference=f"{label.upper()}ORDER-0001",
        customer_name=f"{label}customer Person",
        address=f"{label}street 12",
        phone=f"+{len(label)}9 {label.lower()}phone",
    )
    with scope(organization=organization.pk):
        route = Route.objects.create(
            organization=organization,
            hub=hub,
            date=timezone.localdate(),
            vehicle=vehicle,
            driver=driver,
        )
        stop = Stop.objects.create(organization=organization, route=route, sequence=1, order=order)
        event = DeliveryEvent.objects.filter(order=order).get()
    with tenant_context(organization):
        api_token, _ = api_token_create(organization_id=organization.pk, name=f"{label}integration")
    plain = f"{label.lower()}{API_TOKEN_SUFFIX}"
    api_token.set_token(plain)
    with scope(organization=organization.pk):
        api_token.save(update_fields=["token_hash"])
    webhook_endpoint, webhook_delivery = webhook_rows_build(label, organization, order)
    with scope(organization=organization.pk):
        # No files: tests that stream POD files build their own (tests/deliveries/test_pod_access.py).
        proof = ProofOfDelivery.objects.create(
            organization=organization, order=order, recipient_name=f"{label}recipient Person"
        )
    return order, {
        Order: order,
        FailureReason: reasons[0],
        DeliveryEvent: event,
        Route: route,
        Stop: stop,
        ApiToken: api_token,
        WebhookEndpoint: webhook_endpoint,
        WebhookDelivery: webhook_delivery,
        ProofOfDelivery: proof,
    }


def webhook_rows_build(
    label: str, organization: Organization, order: Order
) -> tuple[WebhookEndpoint, WebhookDelivery]:
    """An endpoint subscribed to nothing (so building a tenant sends nothing) and one logged
    delivery whose payload names the tenant's order."""
    with scope(organization=organization.pk):
        endpoint = WebhookEndpoint.objects.create(
            organization=organization, name=f"{label}hook Endpoint", url="http://127.0.0.1:9/"
        )
        delivery = WebhookDelivery.objects.create(
            organization=organization,
            endpoint=endpoint,
            event="order.created",
            event_id=uuid.uuid4(),
            payload={"order": {"id": order.pk, "reference": order.reference}},
            status=WebhookDelivery.Status.FAILED,
            attempts=1,
            last_error=f"{label}hook refused",
        )
    return endpoint, delivery


def api_token_of(label: str) -> str:
    """The plain API token `tenant_deliveries_build` gave the tenant labelled `label`."""
    return f"{label.lower()}{API_TOKEN_SUFFIX}"
