"""Outgoing webhooks: events become one signed delivery per subscribed endpoint, sent by Celery.

Signing follows Stripe's scheme, so receivers can reuse what they know:
`Doorstep-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
See docs/webhooks.md for the receiver's side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from functools import partial
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError

from tenancy.context import require_organization, tenant_context

from .models import Order, OrderStatus, Stop, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .resolvers import webhook_organizations_due

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

SIGNATURE_HEADER = "Doorstep-Signature"
EVENT_HEADER = "Doorstep-Event"
DELIVERY_HEADER = "Doorstep-Delivery"
SIGNATURE_TOLERANCE_SECONDS = 300
# Multiples of WEBHOOK_RETRY_BASE_SECONDS between attempts: 10 s, 30 s, 2 min, 10 min, 1 h, 2 h,
# 4 h with the default base of 10 s.
RETRY_STEPS = (1, 3, 12, 60, 360, 720, 1440)
# A retry that arrives this much before its due time is a duplicate message and is dropped.
EARLY_SLACK = dt.timedelta(seconds=1)
# How long a due delivery may wait for its queued message before the sweeper enqueues it again.
SWEEP_GRACE = dt.timedelta(minutes=2)
ERROR_MAX_CHARS = 500


# --- Signing (pure) -------------------------------------------------------------------------


def webhook_signature(*, secret: str, body: bytes, timestamp: int) -> str:
    """The `Doorstep-Signature` header value for `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_signature_verify(
    *,
    secret: str,
    body: bytes,
    header: str,
    tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when `header` signs `body` with `secret` and its timestamp is within the tolerance.

    The tolerance keeps a captured request from being replayed later by someone else; the
    receiver should also drop event ids it has already processed.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        return False
    expected = webhook_signature(secret=secret, body=body, timestamp=timestamp).split("v1=")[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def webhook_retry_delay(*, attempts: int, base_seconds: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt."""
    return RETRY_STEPS[min(max(attempts, 1), len(RETRY_STEPS)) - 1] * base_seconds


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The JSON envelope sent for a delivery; `id` is the receiver's deduplication key."""
    envelope = {
        "id": str(delivery.event_id),
        "type": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


# --- Payloads -------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def webhook_order_payload(
    order: Order, *, eta: dt.datetime | None = None, eta_lookup: bool = True
) -> dict[str, Any]:
    """What a receiver learns about an order: identity, status, window, ETA; no customer data
    beyond the reference, so a leaked endpoint log exposes no names, phones or addresses."""
    require_organization(order.organization_id)
    if eta is None and eta_lookup:
        eta = (
            Stop.objects.filter(
                organization_id=order.organization_id, order=order, eta__isnull=False
            )
            .order_by("-route__date", "-id")
            .values_list("eta", flat=True)
            .first()
        )
    return {
        "order": {
            "id": order.pk,
            "reference": order.reference,
            "tracking_code": order.tracking_code,
            "status": order.status,
            "window_start": _iso(order.window_start),
            "window_end": _iso(order.window_end),
            "eta": _iso(eta),
            "created_at": _iso(order.created_at),
            "updated_at": _iso(order.updated_at),
        }
    }


# --- Emitting -------------------------------------------------------------------------------


def _enqueue(delivery_id: int, organization_id: int) -> None:
    from .tasks import webhook_deliver  # the task module imports this one

    try:
        webhook_deliver.delay(delivery_id, organization_id)
    except OperationalError:
        # The row is committed and due: the sweeper (webhook_deliveries_resend_due) sends it.
        logger.exception("Could not enqueue webhook delivery %s", delivery_id)


def webhook_events_emit(
    *, organization_id: int, event: str, payload: dict[str, Any]
) -> list[WebhookDelivery]:
    """One delivery per active endpoint subscribed to `event`, sent once the caller commits.

    Call it inside the transaction of the change it announces: a rolled-back change sends nothing.
    """
    require_organization(organization_id)
    if event not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event {event!r}")
    now = timezone.now()
    # Payloads hold datetimes as ISO strings; the encoder makes any stray value JSON-safe too.
    payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    endpoints = WebhookEndpoint.objects.filter(
        organization_id=organization_id, active=True, events__contains=[event]
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                organization_id=organization_id,
                endpoint=endpoint,
                event=event,
                event_id=uuid.uuid4(),
                payload=payload,
                created_at=now,
                next_attempt_at=now,
            )
            for endpoint in endpoints
        ]
    )
    for delivery in deliveries:
        transaction.on_commit(partial(_enqueue, delivery.pk, organization_id))
    return deliveries


def webhook_order_events_emit(
    *, order: Order, from_status: str | None, eta: dt.datetime | None = None
) -> None:
    """The events of an order that was just created (`from_status` None) or moved."""
    require_organization(order.organization_id)
    if from_status is None:
        events = [WebhookEvent.ORDER_CREATED]
    else:
        events = [WebhookEvent.ORDER_STATUS_CHANGED]
        if order.status == OrderStatus.DELIVERED:
            events.append(WebhookEvent.ORDER_DELIVERED)
        elif order.status == OrderStatus.FAILED:
            events.append(WebhookEvent.ORDER_FAILED)
    # Orders change all day; without a subscriber the payload is not even built.
    subscribed = WebhookEndpoint.objects.filter(
        organization_id=order.organization_id, active=True, events__overlap=events
    )
    if not subscribed.exists():
        return
    # A new order has no stop yet, so no ETA to look up (imports create thousands at once).
    payload = webhook_order_payload(order, eta=eta, eta_lookup=from_status is not None)
    if from_status is not None:
        payload["previous_status"] = from_status
    for event in events:
        webhook_events_emit(organization_id=order.organization_id, event=event, payload=payload)


def webhook_eta_changed(
    *, order: Order, eta: dt.datetime | None, previous_eta: dt.datetime | None = None
) -> None:
    """Announce an order's new ETA (`order.eta_changed`). Call it inside the transaction that
    stores the ETA; callers decide what change is worth announcing."""
    payload = webhook_order_payload(order, eta=eta)
    payload["previous_eta"] = _iso(previous_eta)
    webhook_events_emit(
        organization_id=order.organization_id,
        event=WebhookEvent.ORDER_ETA_CHANGED,
        payload=payload,
    )


# --- Sending --------------------------------------------------------------------------------


def _address_refusal(url: str) -> str:
    """Why `url` may not be called, or "" when it may.

    An organization's admin chooses the URL and the log shows the start of the answer, so a URL
    into our own network (cloud metadata, Redis, the admin of another service) would be a way
    in. The check runs just before each attempt; DNS answers that change in between the check
    and the connection (rebinding) are not covered by it.
    """
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return ""
    try:
        host = httpx.URL(url).host
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (httpx.InvalidURL, socket.gaierror, UnicodeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    for address in sorted(addresses):
        if not ipaddress.ip_address(str(address).split("%")[0]).is_global:
            return f"Refused: {host} resolves to the non-public address {address}."
    return ""


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the delivery once; the status code (None on a network error) and an error text."""
    refusal = _address_refusal(endpoint.url)
    if refusal:
        return None, refusal[:ERROR_MAX_CHARS]
    body = webhook_body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Doorstep-Webhooks/1",
        SIGNATURE_HEADER: webhook_signature(
            secret=endpoint.secret, body=body, timestamp=int(time.time())
        ),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.event_id),
    }
    timeout = httpx.Timeout(settings.WEBHOOK_TIMEOUT_SECONDS, connect=3.0)
    try:
        # Redirects are not followed: a 3xx is an answer the endpoint's owner must fix.
        with httpx.stream(
            "POST", endpoint.url, content=body, headers=headers, timeout=timeout
        ) as response:
            if response.is_success:
                return response.status_code, ""
            answer = _answer_start(response)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
    return response.status_code, f"HTTP {response.status_code}: {answer}"[:ERROR_MAX_CHARS]


def _answer_start(response: httpx.Response) -> str:
    # Only the start is kept for the log, so only the start is read: a receiver answering
    # with an endless body cannot hold the worker or fill its memory.
    start = b""
    for chunk in response.iter_bytes():
        start += chunk
        if len(start) >= ERROR_MAX_CHARS:
            break
    return start.decode(errors="replace")


def webhook_delivery_attempt(*, organization_id: int, delivery_id: int) -> float | None:
    """Make the delivery's next attempt; seconds until the one after, or None when done.

    Safe to run twice: a finished delivery, one not yet due, or one another worker is sending
    right now (its row is locked) is left alone.
    """
    require_organization(organization_id)
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(organization_id=organization_id, pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (Status.SUCCEEDED, Status.FAILED):
            return None
        due = delivery.next_attempt_at
        if due is not None and due > timezone.now() + EARLY_SLACK:
            return None
        if not delivery.endpoint.active:
            delivery.status = Status.FAILED
            delivery.last_error = "The endpoint was deactivated."
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return None
        status_code, error = _post(delivery.endpoint, delivery)
        return _attempt_record(delivery, status_code, error)


def _attempt_record(delivery: WebhookDelivery, status_code: int | None, error: str) -> float | None:
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code = status_code
    delivery.last_error = error
    delay: float | None = None
    if not error:
        delivery.status = Status.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = Status.FAILED
        delivery.next_attempt_at = None
    else:
        delay = webhook_retry_delay(
            attempts=delivery.attempts, base_seconds=settings.WEBHOOK_RETRY_BASE_SECONDS
        )
        delivery.status = Status.RETRYING
        delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
    delivery.save(
        update_fields=[
            "attempts",
            "last_status_code",
            "last_error",
            "status",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    return delay


def webhook_delivery_replay(*, organization_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery's payload again as a new event (new id, `replay_of` set).

    Raises WebhookDelivery.DoesNotExist for an id of another organization, ValidationError when
    the endpoint is switched off.
    """
    require_organization(organization_id)
    with transaction.atomic():
        original = WebhookDelivery.objects.select_related("endpoint").get(
            organization_id=organization_id, pk=delivery_id
        )
        if not original.endpoint.active:
            raise ValidationError("The endpoint is inactive; activate it before replaying.")
        now = timezone.now()
        replay = WebhookDelivery.objects.create(
            organization_id=organization_id,
            endpoint=original.endpoint,
            event=original.event,
            event_id=uuid.uuid4(),
            payload=original.payload,
            replay_of=original,
            created_at=now,
            next_attempt_at=now,
        )
        transaction.on_commit(partial(_enqueue, replay.pk, organization_id))
    return replay


def webhook_deliveries_due(*, organization_id: int, cutoff: dt.datetime, limit: int) -> list[int]:
    """Ids of the organization's deliveries that should have been sent before `cutoff`."""
    require_organization(organization_id)
    return list(
        WebhookDelivery.objects.filter(
            organization_id=organization_id,
            status__in=[Status.PENDING, Status.RETRYING],
            next_attempt_at__lt=cutoff,
        ).values_list("pk", flat=True)[:limit]
    )


def webhook_deliveries_resend_due() -> int:
    """Enqueue deliveries whose queued message was lost (broker down at emit, worker killed).

    A beat fan-out: its resolver names the organizations with due rows, and each is read inside
    its own tenant context."""
    cutoff = timezone.now() - SWEEP_GRACE
    due: list[tuple[int, int]] = []
    for organization_id in webhook_organizations_due(cutoff=cutoff):
        with tenant_context(organization_id):
            ids = webhook_deliveries_due(
                organization_id=organization_id, cutoff=cutoff, limit=1000 - len(due)
            )
        due += [(delivery_id, organization_id) for delivery_id in ids]
        if len(due) >= 1000:
            break
    for delivery_id, organization_id in due:
        _enqueue(delivery_id, organization_id)
    return len(due)


# --- Reads for the console ------------------------------------------------------------------


def webhook_endpoint_list(*, organization_id: int) -> QuerySet[WebhookEndpoint]:
    """The organization's endpoints with their delivery counts of the last day."""
    require_organization(organization_id)
    since = timezone.now() - dt.timedelta(days=1)
    recent = Q(deliveries__created_at__gte=since)
    endpoints = WebhookEndpoint.objects.filter(organization_id=organization_id).annotate(
        recent_total=Count("deliveries", filter=recent),
        recent_failed=Count("deliveries", filter=recent & Q(deliveries__status=Status.FAILED)),
        last_delivery_at=Max("deliveries__created_at"),
    )
    return endpoints


def webhook_delivery_list(*, organization_id: int) -> QuerySet[WebhookDelivery]:
    """The organization's delivery log, newest first."""
    require_organization(organization_id)
    return WebhookDelivery.objects.filter(organization_id=organization_id).select_related(
        "endpoint", "replay_of"
    )


def webhook_delivery_get(*, organization_id: int, delivery_id: int) -> WebhookDelivery:
    """One delivery; raises WebhookDelivery.DoesNotExist for a foreign id."""
    return webhook_delivery_list(organization_id=organization_id).get(pk=delivery_id)
