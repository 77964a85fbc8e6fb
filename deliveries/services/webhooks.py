"""Outgoing webhooks: the "webhooks" outbox subscriber turns each domain event into one signed
delivery per subscribed endpoint, sent by Celery.

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
from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from tenancy.context import require_organization, tenant_context
from tenancy.outbox import outbox_subscribe
from tenancy.outbox.models import OutboxEvent

from ..models import OrderStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..outbox import (
    ORDER_CREATED,
    ORDER_ETA_CHANGED,
    ORDER_KINDS,
    ORDER_STATUS_CHANGED,
    ROUTE_CHANGED,
)
from ..resolvers import webhook_organizations_due

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


# --- The outbox subscriber ------------------------------------------------------------------

# The outbox kinds that become webhooks; one event may become several webhook events.
WEBHOOK_OUTBOX_KINDS = (*ORDER_KINDS, ROUTE_CHANGED)
# Outbox kinds of apps above this one sent as webhooks of the same name (alerts: alert.opened,
# alert.resolved), registered from their AppConfig.ready with webhook_kinds_register.
_REGISTERED_KINDS: set[str] = set()


def webhook_kinds_register(kinds: list[str]) -> None:
    """Another app's outbox kinds become webhook events of the same name (the webhook event
    must be one of WebhookEvent's choices, so endpoints can subscribe to it)."""
    _REGISTERED_KINDS.update(kinds)
    webhooks_subscribe()


# The task (deliveries/tasks.py) is sent by name: the task module imports this one.
WEBHOOK_DELIVER_TASK = "deliveries.webhook_deliver"


def _enqueue(delivery_id: int, organization_id: int) -> None:
    try:
        current_app.send_task(WEBHOOK_DELIVER_TASK, args=(delivery_id, organization_id))
    except OperationalError:
        # The row is committed and due: the sweeper (webhook_deliveries_resend_due) sends it.
        logger.exception("Could not enqueue webhook delivery %s", delivery_id)


def webhook_events_for(*, kind: str, payload: dict[str, Any]) -> list[str]:
    """The webhook events an outbox event becomes (pure)."""
    if kind in _REGISTERED_KINDS:
        return [kind]
    if kind == ORDER_CREATED:
        return [WebhookEvent.ORDER_CREATED]
    if kind == ORDER_ETA_CHANGED:
        return [WebhookEvent.ORDER_ETA_CHANGED]
    if kind == ROUTE_CHANGED:
        return [WebhookEvent.ROUTE_CHANGED]
    if kind == ORDER_STATUS_CHANGED:
        events = [WebhookEvent.ORDER_STATUS_CHANGED.value]
        status = payload.get("order", {}).get("status")
        if status == OrderStatus.DELIVERED:
            events.append(WebhookEvent.ORDER_DELIVERED)
        elif status == OrderStatus.FAILED:
            events.append(WebhookEvent.ORDER_FAILED)
        return events
    return []


def webhook_outbox_handle(event: OutboxEvent) -> None:
    """The "webhooks" subscriber: one delivery per active endpoint subscribed to each webhook
    event, sent once the relay's transaction commits.

    Idempotent: a delivery is unique per (outbox event, endpoint, webhook event), so an event
    relayed twice creates no second row, and only rows never attempted are enqueued."""
    organization_id = event.organization_id
    require_organization(organization_id)
    events = webhook_events_for(kind=event.kind, payload=event.payload)
    endpoints = list(
        WebhookEndpoint.objects.filter(
            organization_id=organization_id,
            active=True,
            events__overlap=events,
            # An endpoint added after the change does not receive it, however late the relay.
            created_at__lte=event.occurred_at,
        )
    )
    if not endpoints:
        return
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                organization_id=organization_id,
                endpoint=endpoint,
                outbox_event_id=event.pk,
                event=webhook_event,
                event_id=uuid.uuid4(),
                payload=event.payload,
                created_at=event.occurred_at,
                next_attempt_at=now,
            )
            for endpoint in endpoints
            for webhook_event in events
            if webhook_event in endpoint.events
        ],
        ignore_conflicts=True,
    )
    fresh = WebhookDelivery.objects.filter(
        organization_id=organization_id,
        outbox_event_id=event.pk,
        status=Status.PENDING,
        attempts=0,
    ).values_list("pk", flat=True)
    for delivery_id in fresh:
        transaction.on_commit(partial(_enqueue, delivery_id, organization_id))


def webhooks_subscribe() -> None:
    """Called from DeliveriesConfig.ready."""
    outbox_subscribe("webhooks", [*WEBHOOK_OUTBOX_KINDS, *_REGISTERED_KINDS], webhook_outbox_handle)


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
    right now is left alone. The POST runs with no transaction open and no row locked: the
    row is claimed first (its next attempt moved past the request's timeout, which also makes
    a duplicate message find it "not yet due"), then the answer is recorded.
    """
    require_organization(organization_id)
    delivery = _attempt_claim(organization_id, delivery_id)
    if delivery is None:
        return None
    status_code, error = _post(delivery.endpoint, delivery)
    with transaction.atomic():
        return _attempt_record(delivery, status_code, error)


def _attempt_claim(organization_id: int, delivery_id: int) -> WebhookDelivery | None:
    """The delivery, claimed for one attempt, or None when there is nothing to send now."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(organization_id=organization_id, pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (Status.SUCCEEDED, Status.FAILED):
            return None
        now = timezone.now()
        due = delivery.next_attempt_at
        if due is not None and due > now + EARLY_SLACK:
            return None
        if not delivery.endpoint.active:
            delivery.status = Status.FAILED
            delivery.last_error = "The endpoint was deactivated."
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return None
        # If this worker dies mid-request, the sweeper sends it again once the claim expires.
        lease = dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 5)
        delivery.next_attempt_at = now + lease
        delivery.save(update_fields=["next_attempt_at"])
    return delivery


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
    fields = ("attempts", "last_status_code", "last_error", "status", "delivered_at")
    recorded = WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=delivery.next_attempt_at,
        **{name: getattr(delivery, name) for name in fields},
    )
    # Gone while it was being sent: its endpoint was deleted with its log. Nothing to retry.
    return delay if recorded else None


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


# --- Endpoints ------------------------------------------------------------------------------

ENDPOINT_FIELDS = ("name", "url", "events", "active")
ENDPOINT_SCHEMES = ("http://", "https://")


def _endpoint_check(endpoint: WebhookEndpoint) -> None:
    endpoint.full_clean(exclude=["organization"])
    # Deliveries are HTTP POSTs: an ftp:// URL (which URLField accepts) could never receive one.
    if not endpoint.url.lower().startswith(ENDPOINT_SCHEMES):
        raise ValidationError({"url": "Use an http:// or https:// URL."})


def webhook_endpoint_create(
    *, organization_id: int, name: str, url: str, events: list[str], active: bool = True
) -> WebhookEndpoint:
    """A new endpoint with a fresh signing secret. Whether its address may be called is
    checked before every attempt (`_address_refusal`), not here: DNS answers change."""
    require_organization(organization_id)
    endpoint = WebhookEndpoint(
        organization_id=organization_id,
        name=name.strip(),
        url=url.strip(),
        events=list(dict.fromkeys(events)),
        active=active,
    )
    _endpoint_check(endpoint)
    endpoint.save()
    return endpoint


def webhook_endpoint_delete(*, organization_id: int, endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log: nothing more is sent to it, not even the
    retries due (an attempt under way when it goes records nothing). Deactivating it instead
    (`active` false) keeps the log. Raises WebhookEndpoint.DoesNotExist for a foreign id."""
    require_organization(organization_id)
    with transaction.atomic():
        WebhookEndpoint.objects.select_for_update().get(
            organization_id=organization_id, pk=endpoint_id
        ).delete()


def webhook_endpoint_update(
    *, organization_id: int, endpoint_id: int, changes: dict[str, Any]
) -> WebhookEndpoint:
    """Change an endpoint's name, URL, events or active flag (not its secret: the admin's
    rotate action). Raises WebhookEndpoint.DoesNotExist for a foreign id."""
    require_organization(organization_id)
    unknown = set(changes) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ValidationError({name: "Not a field of an endpoint." for name in sorted(unknown)})
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(
            organization_id=organization_id, pk=endpoint_id
        )
        for name, value in changes.items():
            if name == "events":
                value = list(dict.fromkeys(value))
            elif isinstance(value, str):
                value = value.strip()
            setattr(endpoint, name, value)
        _endpoint_check(endpoint)
        endpoint.save(update_fields=[*changes, "updated_at"] if changes else None)
    return endpoint
