"""Webhooks end to end: signed deliveries sent by a real Celery worker to a real local HTTP
receiver (pytest-httpserver), retried with backoff, logged, replayed from the console."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from deliveries.models import Stop, WebhookDelivery, WebhookEndpoint, WebhookEvent
from deliveries.outbox import order_eta_changed_emit
from deliveries.services.routes import route_create
from deliveries.services.webhooks import (
    webhook_deliveries_resend_due,
    webhook_delivery_attempt,
    webhook_retry_delay,
    webhook_signature,
    webhook_signature_verify,
)
from tenancy.context import tenant_context
from tenancy.models import Role
from tenancy.outbox.models import OutboxEvent
from tests.conftest import Tenant, login
from tests.deliveries.builders import order_advance, order_build
from tests.support.celery import CeleryWorker, celery_worker_running
from tests.support.outbox import outbox_relay_now

MAX_ATTEMPTS = 4  # the worker's DOORSTEP_WEBHOOK_MAX_ATTEMPTS
RETRY_BASE = 0.1  # the worker's DOORSTEP_WEBHOOK_RETRY_BASE_SECONDS
Status = WebhookDelivery.Status


# --- A real worker and a real receiver ------------------------------------------------------


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    return ("127.0.0.1", 0)  # not "localhost": httpx could try ::1 first


@pytest.fixture(scope="module")
def celery_worker(django_db_setup: Any) -> Iterator[CeleryWorker]:
    """One worker for the module (booting one per test would dominate its run time), with
    retries fast enough to watch."""
    env = {
        "DOORSTEP_WEBHOOK_RETRY_BASE_SECONDS": str(RETRY_BASE),
        "DOORSTEP_WEBHOOK_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "DOORSTEP_WEBHOOK_TIMEOUT_SECONDS": "2",
        "DOORSTEP_WEBHOOK_ALLOW_PRIVATE_URLS": "1",  # the receiver runs on 127.0.0.1
    }
    with celery_worker_running(env) as worker:
        yield worker


class Receiver:
    """A path on the local HTTP server that answers with the given codes in turn (the last one
    repeats) and records what it received and when."""

    def __init__(self, server: HTTPServer, path: str, codes: list[int]) -> None:
        self.url = server.url_for(path)
        self.codes = codes
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        server.expect_request(path, method="POST").respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Response:
        self.requests.append((time.monotonic(), dict(request.headers), request.get_data()))
        code = self.codes[min(len(self.requests), len(self.codes)) - 1]
        return Response(f"answer {code}", status=code)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.requests]


def endpoint_create(tenant: Tenant, url: str, **fields: Any) -> WebhookEndpoint:
    values: dict[str, Any] = {"name": "Receiver", "events": list(WebhookEvent.values)}
    values.update(fields)
    with scope(organization=tenant.organization.pk):
        return WebhookEndpoint.objects.create(organization=tenant.organization, url=url, **values)


def deliveries_of(endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    with scopes_disabled():
        return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at", "id"))


def delivered(endpoint: WebhookEndpoint, count: int = 1) -> Callable[[], bool]:
    def check() -> bool:
        rows = deliveries_of(endpoint)
        return len(rows) >= count and all(
            row.status in (Status.SUCCEEDED, Status.FAILED) for row in rows
        )

    return check


# --- Signing (pure) -------------------------------------------------------------------------


def test_signature_verifies_with_the_secret_and_fails_otherwise() -> None:
    body = b'{"id":"e1","type":"order.created"}'
    now = 1_800_000_000
    header = webhook_signature(secret="s3cret", body=body, timestamp=now)
    assert header.startswith(f"t={now},v1=")
    assert webhook_signature_verify(secret="s3cret", body=body, header=header, now=now + 10)
    assert not webhook_signature_verify(secret="other", body=body, header=header, now=now)
    assert not webhook_signature_verify(secret="s3cret", body=body + b" ", header=header, now=now)
    # Outside the tolerance window a captured request is refused, in either direction.
    assert not webhook_signature_verify(secret="s3cret", body=body, header=header, now=now + 301)
    assert not webhook_signature_verify(secret="s3cret", body=body, header=header, now=now - 301)
    for broken in ("", "t=abc,v1=00", f"t={now}", "v1=00", header.replace("v1=", "v0=")):
        assert not webhook_signature_verify(secret="s3cret", body=body, header=broken, now=now)
    # During a secret rotation a receiver may see several v1 values: any valid one is enough.
    rotated = f"{header},v1={'0' * 64}"
    assert webhook_signature_verify(secret="s3cret", body=body, header=rotated, now=now)


def test_retry_delays_grow_and_level_off() -> None:
    delays = [webhook_retry_delay(attempts=n, base_seconds=10) for n in range(1, 10)]
    assert delays[:5] == [10, 30, 120, 600, 3600]
    assert delays == sorted(delays)
    assert delays[-1] == delays[-2] == 14400


# --- Delivery through the worker ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_failing_receiver_is_retried_with_backoff_until_it_answers(
    tenant_a: Tenant, httpserver: HTTPServer, celery_worker: CeleryWorker
) -> None:
    receiver = Receiver(httpserver, "/hooks/flaky", [500, 500, 200])
    endpoint = endpoint_create(tenant_a, receiver.url, events=[WebhookEvent.ORDER_CREATED])
    order = order_build(tenant_a.organization, tenant_a.hub, reference="HOOK-1")
    celery_worker.wait_for(delivered(endpoint), "the delivery to finish")

    [delivery] = deliveries_of(endpoint)
    assert (delivery.status, delivery.attempts) == (Status.SUCCEEDED, 3)
    assert delivery.last_status_code == 200 and delivery.last_error == ""
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert [response.status_code for _, response in httpserver.log] == [500, 500, 200]
    # Every attempt is the same event (the receiver's deduplication key), freshly signed.
    for _, headers, body in receiver.requests:
        assert headers["Doorstep-Delivery"] == str(delivery.event_id)
        assert headers["Doorstep-Event"] == "order.created"
        signature = headers["Doorstep-Signature"]
        assert webhook_signature_verify(secret=endpoint.secret, body=body, header=signature)
        assert not webhook_signature_verify(secret="not-the-secret", body=body, header=signature)
    envelope = receiver.bodies()[0]
    assert envelope["id"] == str(delivery.event_id) and envelope["type"] == "order.created"
    assert envelope["data"]["order"]["reference"] == "HOOK-1"
    assert envelope["data"]["order"]["tracking_code"] == order.tracking_code
    assert "customer_name" not in envelope["data"]["order"]  # no personal data in webhooks
    # Backoff: the second wait (3 x base) is longer than the first (1 x base).
    times = [at for at, _, _ in receiver.requests]
    assert times[1] - times[0] >= RETRY_BASE * 0.9
    assert times[2] - times[1] >= RETRY_BASE * 3 * 0.9


@pytest.mark.django_db(transaction=True)
def test_permanently_failing_receiver_ends_failed_after_the_last_attempt(
    tenant_a: Tenant, httpserver: HTTPServer, celery_worker: CeleryWorker, client_for: Any
) -> None:
    receiver = Receiver(httpserver, "/hooks/broken", [503])
    endpoint = endpoint_create(tenant_a, receiver.url)
    assert tenant_a.order is not None
    order_advance(tenant_a.order, "assigned")
    celery_worker.wait_for(delivered(endpoint), "the delivery to fail")

    [delivery] = deliveries_of(endpoint)
    assert (delivery.status, delivery.attempts) == (Status.FAILED, MAX_ATTEMPTS)
    assert delivery.last_status_code == 503
    assert delivery.last_error == "HTTP 503: answer 503"
    assert delivery.delivered_at is None and delivery.next_attempt_at is None
    time.sleep(RETRY_BASE * 15)
    assert len(receiver.requests) == MAX_ATTEMPTS  # nothing after the last attempt
    page = client_for(tenant_a, Role.ADMIN).get("/webhooks/?status=failed").content.decode()
    assert 'data-status="failed"' in page and "HTTP 503: answer 503" in page


@pytest.mark.django_db(transaction=True)
def test_unreachable_receiver_logs_the_network_error(
    tenant_a: Tenant, celery_worker: CeleryWorker
) -> None:
    endpoint = endpoint_create(tenant_a, "http://127.0.0.1:9/nobody-listens")
    order_build(tenant_a.organization, tenant_a.hub, reference="HOOK-NET")
    celery_worker.wait_for(delivered(endpoint), "the delivery to fail")
    [delivery] = deliveries_of(endpoint)
    assert (delivery.status, delivery.attempts) == (Status.FAILED, MAX_ATTEMPTS)
    assert delivery.last_status_code is None
    assert delivery.last_error.startswith("ConnectError")


@pytest.mark.django_db(transaction=True)
def test_replay_sends_the_payload_again_as_a_new_event(
    tenant_a: Tenant, httpserver: HTTPServer, celery_worker: CeleryWorker, client_for: Any
) -> None:
    receiver = Receiver(httpserver, "/hooks/replay", [200])
    endpoint = endpoint_create(tenant_a, receiver.url, events=[WebhookEvent.ORDER_CREATED])
    order_build(tenant_a.organization, tenant_a.hub, reference="HOOK-R")
    celery_worker.wait_for(delivered(endpoint), "the first delivery")
    [original] = deliveries_of(endpoint)

    response = client_for(tenant_a, Role.MANAGER).post(
        f"/webhooks/deliveries/{original.pk}/replay/", {"return_query": "status=succeeded"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/webhooks/?status=succeeded"
    celery_worker.wait_for(delivered(endpoint, 2), "the replay")

    replay = deliveries_of(endpoint)[1]
    assert replay.replay_of_id == original.pk
    assert replay.event_id != original.event_id
    assert (replay.payload, replay.event) == (original.payload, original.event)
    assert (replay.status, replay.attempts) == (Status.SUCCEEDED, 1)
    first, second = receiver.bodies()
    assert second["id"] == str(replay.event_id) != first["id"]
    assert second["data"] == first["data"]
    _, headers, body = receiver.requests[1]
    assert headers["Doorstep-Delivery"] == str(replay.event_id)
    assert webhook_signature_verify(
        secret=endpoint.secret, body=body, header=headers["Doorstep-Signature"]
    )


@pytest.mark.django_db(transaction=True)
def test_only_subscribed_events_of_active_endpoints_are_sent(
    tenant_a: Tenant, httpserver: HTTPServer, celery_worker: CeleryWorker
) -> None:
    delivered_only = Receiver(httpserver, "/hooks/delivered", [200])
    switched_off = Receiver(httpserver, "/hooks/off", [200])
    subscriber = endpoint_create(
        tenant_a, delivered_only.url, events=[WebhookEvent.ORDER_DELIVERED]
    )
    inactive = endpoint_create(tenant_a, switched_off.url, active=False)
    order = order_build(tenant_a.organization, tenant_a.hub, reference="HOOK-S")
    order_advance(order, "assigned", "out_for_delivery", "arrived")
    assert deliveries_of(subscriber) == []
    order_advance(order, "delivered")
    celery_worker.wait_for(delivered(subscriber), "the delivered event")

    [delivery] = deliveries_of(subscriber)
    assert delivery.event == "order.delivered"
    assert delivery.payload["order"]["status"] == "delivered"
    assert delivery.payload["previous_status"] == "arrived"
    assert [body["type"] for body in delivered_only.bodies()] == ["order.delivered"]
    assert deliveries_of(inactive) == [] and switched_off.requests == []


@pytest.mark.django_db(transaction=True)
def test_status_change_and_failure_events(tenant_a: Tenant, celery_worker: CeleryWorker) -> None:
    endpoint = endpoint_create(
        tenant_a, "http://127.0.0.1:9/", events=["order.status_changed", "order.failed"]
    )
    order = order_build(tenant_a.organization, tenant_a.hub, reference="HOOK-F")
    order_advance(order, "assigned", "out_for_delivery", "arrived", "failed")
    # The worker relays the outbox events into deliveries.
    celery_worker.wait_for(lambda: len(deliveries_of(endpoint)) >= 5, "five deliveries")
    events = [(d.event, d.payload["order"]["status"]) for d in deliveries_of(endpoint)]
    assert events == [
        ("order.status_changed", "assigned"),
        ("order.status_changed", "out_for_delivery"),
        ("order.status_changed", "arrived"),
        ("order.status_changed", "failed"),
        ("order.failed", "failed"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_tenants_events_never_reach_another_tenants_endpoint(
    tenant_a: Tenant, tenant_b: Tenant, httpserver: HTTPServer, celery_worker: CeleryWorker
) -> None:
    receiver_a = Receiver(httpserver, "/hooks/a", [200])
    receiver_b = Receiver(httpserver, "/hooks/b", [200])
    endpoint_a = endpoint_create(tenant_a, receiver_a.url)
    endpoint_b = endpoint_create(tenant_b, receiver_b.url)
    order_build(tenant_a.organization, tenant_a.hub, reference="HOOK-A")
    celery_worker.wait_for(delivered(endpoint_a), "A's delivery")
    time.sleep(0.5)
    assert [body["data"]["order"]["reference"] for body in receiver_a.bodies()] == ["HOOK-A"]
    assert receiver_b.requests == [] and deliveries_of(endpoint_b) == []


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_sends_nothing(
    tenant_a: Tenant, httpserver: HTTPServer, celery_worker: CeleryWorker
) -> None:
    receiver = Receiver(httpserver, "/hooks/rollback", [200])
    endpoint = endpoint_create(tenant_a, receiver.url)
    assert tenant_a.order is not None
    with pytest.raises(RuntimeError), transaction.atomic():
        order_advance(tenant_a.order, "assigned")
        with scopes_disabled():  # the event is written inside the transaction…
            moved = OutboxEvent.objects.filter(
                aggregate_id=tenant_a.order.pk, kind="order.status_changed"
            )
            assert moved.count() == 1
        raise RuntimeError("the caller fails after the transition")
    time.sleep(1)
    assert deliveries_of(endpoint) == [] and receiver.requests == []  # …and gone with it
    with scopes_disabled():
        assert not OutboxEvent.objects.filter(
            aggregate_id=tenant_a.order.pk, kind="order.status_changed"
        ).exists()


@pytest.mark.django_db(transaction=True)
def test_a_lost_message_is_sent_by_the_sweeper(
    tenant_a: Tenant, httpserver: HTTPServer, celery_worker: CeleryWorker
) -> None:
    receiver = Receiver(httpserver, "/hooks/sweep", [200])
    endpoint = endpoint_create(tenant_a, receiver.url)
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    with scope(organization=tenant_a.organization.pk):
        # As if the broker was down when the order was created: the row exists, no message.
        WebhookDelivery.objects.create(
            organization=tenant_a.organization, endpoint=endpoint, event="order.created",
            event_id="4a0c5e9e-3a5e-4a44-9d9a-6f0f2b5d7a11", payload={"order": {"id": 1}},
            created_at=long_ago, next_attempt_at=long_ago,
        )  # fmt: skip
    assert webhook_deliveries_resend_due() == 1
    celery_worker.wait_for(delivered(endpoint), "the swept delivery")
    assert [body["id"] for body in receiver.bodies()] == ["4a0c5e9e-3a5e-4a44-9d9a-6f0f2b5d7a11"]


# --- The send service without a worker ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_finished_or_not_yet_due_delivery_is_not_sent_again(
    tenant_a: Tenant, httpserver: HTTPServer, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    receiver = Receiver(httpserver, "/hooks/once", [200])
    endpoint = endpoint_create(tenant_a, receiver.url)
    with scope(organization=tenant_a.organization.pk):
        delivery = WebhookDelivery.objects.create(
            organization=tenant_a.organization, endpoint=endpoint, event="order.created",
            event_id="0b9c0c43-54f1-4b4b-9f0e-2bb1c1b6f0a1", payload={},
            next_attempt_at=timezone.now() + dt.timedelta(minutes=5),
        )  # fmt: skip
    org = tenant_a.organization.pk
    with tenant_context(org):
        assert webhook_delivery_attempt(organization_id=org, delivery_id=delivery.pk) is None
    assert receiver.requests == []  # a duplicate message arriving early is dropped
    with scopes_disabled():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    with tenant_context(org):
        assert webhook_delivery_attempt(organization_id=org, delivery_id=delivery.pk) is None
    with tenant_context(org):
        assert webhook_delivery_attempt(organization_id=org, delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1  # succeeded once, never re-sent
    # Another organization's id finds nothing to send.
    other = tenant_a.organization.pk + 10_000
    with tenant_context(other):
        assert webhook_delivery_attempt(organization_id=other, delivery_id=delivery.pk) is None


@pytest.mark.django_db(transaction=True)
def test_only_the_start_of_a_huge_error_answer_is_logged(
    tenant_a: Tenant, httpserver: HTTPServer, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    httpserver.expect_request("/hooks/huge").respond_with_data("x" * 5_000_000, status=500)
    endpoint = endpoint_create(tenant_a, httpserver.url_for("/hooks/huge"))
    with scope(organization=tenant_a.organization.pk):
        delivery = WebhookDelivery.objects.create(
            organization=tenant_a.organization, endpoint=endpoint, event="order.created",
            event_id=uuid.uuid4(), payload={}, next_attempt_at=timezone.now(),
        )  # fmt: skip
    with tenant_context(tenant_a.organization.pk):
        webhook_delivery_attempt(organization_id=tenant_a.organization.pk, delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.last_status_code == 500 and delivery.status == Status.RETRYING
    assert delivery.last_error.startswith("HTTP 500: xxx") and len(delivery.last_error) == 500


@pytest.mark.django_db(transaction=True)
def test_private_addresses_are_refused_unless_allowed(
    tenant_a: Tenant, httpserver: HTTPServer, settings: Any
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    receiver = Receiver(httpserver, "/hooks/internal", [200])
    for url in (receiver.url, "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/"):
        endpoint = endpoint_create(tenant_a, url)
        with scope(organization=tenant_a.organization.pk):
            delivery = WebhookDelivery.objects.create(
                organization=tenant_a.organization, endpoint=endpoint, event="order.created",
                event_id=uuid.uuid4(), payload={}, next_attempt_at=timezone.now(),
            )  # fmt: skip
        with tenant_context(tenant_a.organization.pk):
            delay = webhook_delivery_attempt(
                organization_id=tenant_a.organization.pk, delivery_id=delivery.pk
            )
        assert delay == settings.WEBHOOK_RETRY_BASE_SECONDS
        delivery.refresh_from_db()
        assert delivery.status == Status.RETRYING and delivery.last_status_code is None
        assert "non-public address" in delivery.last_error, url
    assert receiver.requests == []


@pytest.mark.django_db
def test_status_change_payload_carries_the_stops_eta(tenant_a: Tenant) -> None:
    endpoint = endpoint_create(tenant_a, "http://127.0.0.1:9/", events=["order.status_changed"])
    stop = tenant_a.delivery_objects[Stop]
    eta = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=42)
    with scopes_disabled():
        Stop.objects.filter(pk=stop.pk).update(eta=eta)
    assert tenant_a.order is not None
    order_advance(tenant_a.order, "assigned")
    outbox_relay_now(tenant_a.organization.pk)
    [delivery] = deliveries_of(endpoint)
    order = delivery.payload["order"]
    assert dt.datetime.fromisoformat(order["eta"]) == eta
    assert (order["status"], delivery.payload["previous_status"]) == ("assigned", "created")


@pytest.mark.django_db
def test_eta_changes_are_announced_with_the_previous_eta(tenant_a: Tenant) -> None:
    endpoint = endpoint_create(
        tenant_a, "http://127.0.0.1:9/", events=[WebhookEvent.ORDER_ETA_CHANGED]
    )
    assert tenant_a.order is not None
    eta = timezone.now().replace(microsecond=0) + dt.timedelta(minutes=30)
    with tenant_context(tenant_a.order.organization_id), transaction.atomic():
        order_eta_changed_emit(
            order=tenant_a.order, eta=eta, previous_eta=eta - dt.timedelta(minutes=9)
        )
    outbox_relay_now(tenant_a.organization.pk)
    [delivery] = deliveries_of(endpoint)
    assert delivery.event == "order.eta_changed"
    assert dt.datetime.fromisoformat(delivery.payload["order"]["eta"]) == eta
    previous = dt.datetime.fromisoformat(delivery.payload["previous_eta"])
    assert eta - previous == dt.timedelta(minutes=9)


# --- Console and admin ----------------------------------------------------------------------


@pytest.mark.django_db
def test_replaying_a_foreign_delivery_is_404(tenant_a: Tenant, tenant_b: Tenant) -> None:
    foreign = tenant_b.delivery_objects[WebhookDelivery]
    for role in (Role.ADMIN, Role.MANAGER):
        response = login(tenant_a.users[role]).post(f"/webhooks/deliveries/{foreign.pk}/replay/")
        assert response.status_code == 404
        assert "Bravo" not in response.content.decode()
    with scopes_disabled():
        assert not WebhookDelivery.objects.filter(replay_of=foreign).exists()


@pytest.mark.django_db
def test_replay_needs_post_an_admin_or_manager_and_an_active_endpoint(tenant_a: Tenant) -> None:
    own = tenant_a.delivery_objects[WebhookDelivery]
    url = f"/webhooks/deliveries/{own.pk}/replay/"
    assert login(tenant_a.users[Role.ADMIN]).get(url).status_code == 405
    for role in (Role.SUPPORT, Role.DISPATCHER, Role.DRIVER):
        assert login(tenant_a.users[role]).post(url).status_code == 403
    # The builder's endpoint is active but subscribed to nothing; switch it off.
    with scopes_disabled():
        WebhookEndpoint.objects.filter(pk=own.endpoint_id).update(active=False)
    response = login(tenant_a.users[Role.ADMIN]).post(url, follow=True)
    assert response.status_code == 200
    assert "The endpoint is inactive" in response.content.decode()
    with scopes_disabled():
        assert not WebhookDelivery.objects.filter(replay_of=own).exists()


@pytest.mark.django_db
def test_webhook_page_shows_own_endpoints_and_log_only(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.MANAGER])
    page = client.get("/webhooks/").content.decode()
    assert "Alphahook Endpoint" in page and "Alphahook refused" in page
    assert "Bravohook" not in page
    assert 'href="/webhooks/"' in page  # the nav link, shown to managers
    # Filters narrow the log; a foreign endpoint id or a bad value is a form error, not a 500.
    assert "Alphahook refused" not in client.get("/webhooks/?status=succeeded").content.decode()
    foreign_endpoint = tenant_b.delivery_objects[WebhookEndpoint].pk
    for query in (f"endpoint={foreign_endpoint}", "status=bogus", "page=999"):
        response = client.get(f"/webhooks/?{query}")
        assert response.status_code == 200, query
        assert "Bravohook" not in response.content.decode()
    partial = client.get("/webhooks/?status=failed", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "Alphahook refused" in partial
    assert login(tenant_a.users[Role.SUPPORT]).get("/webhooks/").status_code == 403
    assert (
        'href="/webhooks/"'
        not in login(tenant_a.users[Role.SUPPORT]).get("/orders/").content.decode()
    )


@pytest.mark.django_db
def test_delivery_detail_shows_the_payload(tenant_a: Tenant) -> None:
    own = tenant_a.delivery_objects[WebhookDelivery]
    page = login(tenant_a.users[Role.ADMIN]).get(f"/webhooks/deliveries/{own.pk}/")
    assert page.status_code == 200
    assert tenant_a.order is not None and tenant_a.order.reference in page.content.decode()


@pytest.mark.django_db
def test_admin_rotates_the_secret_and_subscribes_with_checkboxes(tenant_a: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    response = client.post(
        "/admin/deliveries/webhookendpoint/add/",
        {"name": "ERP", "url": "https://erp.example/hooks", "events": ["order.delivered"],
         "active": "on", "secret": "chosen-by-hand"},
    )  # fmt: skip
    assert response.status_code == 302
    with scope(organization=tenant_a.organization.pk):
        endpoint = WebhookEndpoint.objects.get(name="ERP")
    assert endpoint.events == ["order.delivered"]
    assert endpoint.secret != "chosen-by-hand" and len(endpoint.secret) >= 40  # read-only field
    old_secret = endpoint.secret
    client.post(
        "/admin/deliveries/webhookendpoint/",
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret
    change = client.get(
        f"/admin/deliveries/webhookdelivery/{tenant_a.delivery_objects[WebhookDelivery].pk}/change/"
    )
    assert (
        change.status_code == 200 and 'name="payload"' not in change.content.decode()
    )  # read-only


@pytest.mark.django_db(transaction=True)
def test_the_post_holds_no_row_lock_and_no_open_transaction(
    tenant_a: Tenant, httpserver: HTTPServer, celery_worker: CeleryWorker
) -> None:
    import psycopg
    from django.db import connection

    database = connection.settings_dict["NAME"]
    seen: list[tuple[bool, int]] = []

    def answer(request: Request) -> Response:
        # While the worker waits for this answer: is its delivery row lockable, and is any
        # application connection idle inside a transaction?
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname=database) as owner:
            try:
                owner.execute(
                    "SELECT 1 FROM deliveries_webhookdelivery WHERE endpoint_id = %s "
                    "FOR UPDATE NOWAIT",
                    [endpoint.pk],
                )
                lockable = True
            except psycopg.errors.LockNotAvailable:
                lockable = False
            owner.rollback()
            idle = owner.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()",
                [database],
            ).fetchone()
        seen.append((lockable, int(idle[0]) if idle else -1))
        return Response("ok", status=200)

    httpserver.expect_request("/hooks/nolock", method="POST").respond_with_handler(answer)
    endpoint = endpoint_create(
        tenant_a, httpserver.url_for("/hooks/nolock"), events=[WebhookEvent.ORDER_CREATED]
    )
    order_build(tenant_a.organization, tenant_a.hub, reference="HOOK-NOLOCK")
    celery_worker.wait_for(delivered(endpoint), "the delivery")
    assert seen == [(True, 0)]


@pytest.mark.django_db(transaction=True)
def test_a_route_change_is_sent_to_the_endpoints_that_subscribed(
    tenant_a: Tenant, httpserver: HTTPServer, celery_worker: CeleryWorker
) -> None:
    """`route.changed`: a planning system or a driver roster hears of a new route and its crew
    without polling; an endpoint that did not subscribe hears nothing."""
    receiver = Receiver(httpserver, "/hooks/routes", [200])
    routes_endpoint = endpoint_create(tenant_a, receiver.url, events=[WebhookEvent.ROUTE_CHANGED])
    orders_only = endpoint_create(
        tenant_a, httpserver.url_for("/hooks/orders"), events=[WebhookEvent.ORDER_CREATED]
    )
    organization_id = tenant_a.organization.pk
    with tenant_context(organization_id):
        route = route_create(
            organization_id=organization_id,
            hub_id=tenant_a.hub.pk,
            date=timezone.localdate() + dt.timedelta(days=9),
            vehicle_id=tenant_a.vehicle.pk,
        )
    celery_worker.wait_for(delivered(routes_endpoint), "the route's webhook")

    [delivery] = deliveries_of(routes_endpoint)
    assert delivery.status == Status.SUCCEEDED and delivery.event == "route.changed"
    [envelope] = receiver.bodies()
    assert envelope["type"] == "route.changed"
    sent = envelope["data"]["route"]
    assert (sent["id"], sent["vehicle_id"], sent["hub_id"]) == (
        route.pk,
        tenant_a.vehicle.pk,
        tenant_a.hub.pk,
    )
    assert deliveries_of(orders_only) == []
