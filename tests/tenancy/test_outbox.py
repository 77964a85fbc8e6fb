"""The outbox: events commit (or roll back) with their change, reach every subscriber in id
order, at least once, with failures retried without blocking others; a broker outage at emit
time costs a delay, never an event (real Postgres, Redis, Celery worker, HTTP receiver)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled
from pytest_httpserver import HTTPServer

from deliveries.models import WebhookDelivery, WebhookEvent
from deliveries.services.webhooks import webhook_outbox_handle
from tenancy.context import tenant_context
from tenancy.outbox import outbox_emit, outbox_subscribe
from tenancy.outbox.models import OutboxDelivery, OutboxEvent
from tenancy.outbox.registry import outbox_unsubscribe
from tenancy.outbox.services import outbox_relay_sweep_run
from tests.conftest import Tenant
from tests.deliveries.builders import order_advance
from tests.deliveries.test_webhooks import (  # noqa: F401  (fixtures)
    Receiver,
    celery_worker,
    endpoint_create,
    httpserver_listen_address,
)
from tests.support.celery import CeleryWorker
from tests.support.outbox import outbox_relay_now

KIND = "test.happened"


class Recorder:
    """A test subscriber: records the events it saw, fails on the ids it is told to (once)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []  # (organization id, event id)
        self.fail_once: set[int] = set()

    def __call__(self, event: OutboxEvent) -> None:
        if event.pk in self.fail_once:
            self.fail_once.discard(event.pk)
            raise RuntimeError("the subscriber's dependency hiccuped")
        self.seen.append((event.organization_id, event.pk))


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    outbox_subscribe("test-recorder", [KIND], handler)
    yield handler
    outbox_unsubscribe("test-recorder")


def emit(tenant: Tenant, aggregate_id: int = 1) -> OutboxEvent:
    organization_id = tenant.organization.pk
    with tenant_context(organization_id), transaction.atomic():
        return outbox_emit(
            organization_id=organization_id,
            kind=KIND,
            aggregate="order",
            aggregate_id=aggregate_id,
            payload={"n": aggregate_id},
        )


def events_of(tenant: Tenant) -> list[OutboxEvent]:
    with scopes_disabled():
        return list(OutboxEvent.objects.filter(organization=tenant.organization).order_by("id"))


@pytest.mark.django_db(transaction=True)
def test_the_event_commits_with_the_change_and_rolls_back_with_it(tenant_a: Tenant) -> None:
    assert tenant_a.order is not None
    before = len(events_of(tenant_a))
    with pytest.raises(RuntimeError), transaction.atomic():
        order_advance(tenant_a.order, "assigned")
        raise RuntimeError("the caller fails after the change")
    assert len(events_of(tenant_a)) == before
    order_advance(tenant_a.order, "assigned")
    [event] = events_of(tenant_a)[before:]
    assert (event.kind, event.aggregate, event.aggregate_id) == (
        "order.status_changed",
        "order",
        tenant_a.order.pk,
    )
    assert event.payload["previous_status"] == "created"
    assert event.relayed_at is None


@pytest.mark.django_db
def test_emit_outside_a_transaction_is_refused(tenant_a: Tenant) -> None:
    organization_id = tenant_a.organization.pk
    with tenant_context(organization_id):
        # The test's own transaction is an atomic block; leave it to see the refusal.
        connection.in_atomic_block, saved = False, connection.in_atomic_block
        try:
            with pytest.raises(RuntimeError, match="inside the transaction"):
                outbox_emit(
                    organization_id=organization_id, kind=KIND, aggregate="order",
                    aggregate_id=1, payload={},
                )  # fmt: skip
        finally:
            connection.in_atomic_block = saved


@pytest.mark.django_db
def test_relay_hands_events_out_in_order_and_retries_a_failure_without_blocking(
    tenant_a: Tenant, recorder: Recorder, settings: Any
) -> None:
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    events = [emit(tenant_a, n) for n in range(1, 6)]
    recorder.fail_once.add(events[1].pk)
    outbox_relay_now(tenant_a.organization.pk)
    ids = [event.pk for event in events]
    # The failure did not hold back the events after it.
    assert recorder.seen == [(tenant_a.organization.pk, i) for i in ids if i != ids[1]]
    with scopes_disabled():
        failed = OutboxDelivery.objects.get(event_id=ids[1], subscriber="test-recorder")
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert "hiccuped" in failed.last_error
    outbox_relay_now(tenant_a.organization.pk)  # the retry is due at once (base 0)
    outbox_relay_now(tenant_a.organization.pk)  # and nothing is handed out twice
    assert [i for _, i in recorder.seen] == [*ids[:1], *ids[2:], ids[1]]
    with scopes_disabled():
        rows = OutboxDelivery.objects.filter(event_id__in=ids, subscriber="test-recorder")
        assert {(row.status, row.attempts) for row in rows if row.event_id != ids[1]} == {
            ("delivered", 1)
        }
        assert rows.get(event_id=ids[1]).attempts == 2
    assert all(event.relayed_at is not None for event in events_of(tenant_a))


@pytest.mark.django_db
def test_relay_of_one_organization_never_touches_another(
    tenant_a: Tenant, tenant_b: Tenant, recorder: Recorder
) -> None:
    emit(tenant_a)
    foreign = emit(tenant_b)
    outbox_relay_now(tenant_a.organization.pk)
    assert {organization for organization, _ in recorder.seen} == {tenant_a.organization.pk}
    assert all(event.relayed_at is not None for event in events_of(tenant_a))
    [still] = [event for event in events_of(tenant_b) if event.pk == foreign.pk]
    assert still.relayed_at is None
    # Row-level security is the floor: inside A's context B's events do not exist at all.
    with tenant_context(tenant_a.organization.pk), scopes_disabled():
        assert not OutboxEvent.objects.filter(pk=foreign.pk).exists()
        assert not OutboxEvent.objects.filter(organization=tenant_b.organization).exists()


@pytest.fixture
def quiet_recorder() -> Iterator[Recorder]:
    """A subscriber that declares it writes nothing (it runs without a savepoint)."""
    handler = Recorder()
    outbox_subscribe("test-quiet", [KIND], handler, writes=False)
    yield handler
    outbox_unsubscribe("test-quiet")


@pytest.mark.django_db
def test_a_batch_writes_its_delivery_rows_and_relayed_marks_in_one_statement_each(
    tenant_a: Tenant, recorder: Recorder, quiet_recorder: Recorder
) -> None:
    outbox_relay_now(tenant_a.organization.pk)  # the fixtures' own events
    events = [emit(tenant_a, n) for n in range(1, 21)]
    with CaptureQueriesContext(connection) as queries:
        assert outbox_relay_now(tenant_a.organization.pk) == len(events)
    statements = [q["sql"] for q in queries.captured_queries]
    inserts = [q for q in statements if q.startswith('INSERT INTO "tenancy_outboxdelivery"')]
    updates = [q for q in statements if q.startswith('UPDATE "tenancy_outboxevent"')]
    savepoints = [q for q in statements if q.startswith("SAVEPOINT")]
    assert (len(inserts), len(updates)) == (1, 1)
    # The writing subscriber's, one per event, none for the quiet one; plus one per batch
    # (this batch and the empty one that ends the run), their transactions nested in the test's.
    assert len(savepoints) == len(events) + 2
    ids = [event.pk for event in events]
    assert [i for _, i in recorder.seen] == ids
    assert [i for _, i in quiet_recorder.seen] == ids
    with scopes_disabled():
        rows = OutboxDelivery.objects.filter(event_id__in=ids)
        assert sorted((r.subscriber, r.status) for r in rows) == sorted(
            [("test-recorder", "delivered")] * 20 + [("test-quiet", "delivered")] * 20
        )
    assert all(event.relayed_at is not None for event in events_of(tenant_a))


@pytest.mark.django_db
def test_a_write_free_subscriber_that_fails_leaves_its_event_pending_for_a_retry(
    tenant_a: Tenant, recorder: Recorder, quiet_recorder: Recorder, settings: Any
) -> None:
    settings.OUTBOX_RETRY_BASE_SECONDS = 0
    first, second = emit(tenant_a, 1), emit(tenant_a, 2)
    quiet_recorder.fail_once.add(first.pk)
    outbox_relay_now(tenant_a.organization.pk)
    with scopes_disabled():
        failed = OutboxDelivery.objects.get(event_id=first.pk, subscriber="test-quiet")
    assert (failed.status, failed.attempts) == ("pending", 1)
    assert "hiccuped" in failed.last_error
    assert [i for _, i in recorder.seen] == [first.pk, second.pk]  # the other one went on
    pending = {e.pk: e.relayed_at for e in events_of(tenant_a)}
    assert pending[first.pk] is None and pending[second.pk] is not None
    outbox_relay_now(tenant_a.organization.pk)
    assert [i for _, i in quiet_recorder.seen] == [second.pk, first.pk]
    assert [i for _, i in recorder.seen] == [first.pk, second.pk]  # not handed out twice
    assert all(event.relayed_at is not None for event in events_of(tenant_a))


@pytest.mark.django_db
def test_a_redelivered_event_creates_no_second_webhook_delivery(tenant_a: Tenant) -> None:
    endpoint = endpoint_create(tenant_a, "http://127.0.0.1:9/", events=list(WebhookEvent.values))
    assert tenant_a.order is not None
    order_advance(tenant_a.order, "assigned", "out_for_delivery", "arrived", "delivered")
    [event] = [e for e in events_of(tenant_a) if e.payload["order"]["status"] == "delivered"]
    with tenant_context(tenant_a.organization.pk):
        for _ in range(3):  # as if the relay crashed before recording the delivery, twice
            with transaction.atomic():
                webhook_outbox_handle(event)
    with scopes_disabled():
        rows = WebhookDelivery.objects.filter(endpoint=endpoint, outbox_event_id=event.pk)
        assert sorted(rows.values_list("event", flat=True)) == [
            "order.delivered",
            "order.status_changed",
        ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket closes


def _forget_connections(app: Any) -> None:
    # Celery caches its connection and producer pools; dropped, they reconnect to broker_url.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_at_emit_loses_no_event(
    tenant_a: Tenant,
    httpserver: HTTPServer,
    celery_worker: CeleryWorker,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    from config.celery import app

    receiver = Receiver(httpserver, "/hooks/outage", [200])
    endpoint = endpoint_create(tenant_a, receiver.url, events=["order.status_changed"])
    assert tenant_a.order is not None
    # The fixtures' own events are relayed by the worker first: a relay still running for them
    # would find the outage's event too (a relay runs until a batch finds nothing), and the
    # test is about the one whose on-commit enqueue failed.
    celery_worker.wait_for(
        lambda: all(e.relayed_at for e in events_of(tenant_a)), "the fixtures' events relayed"
    )
    time.sleep(1)  # the relay's last, empty batch
    broker = app.conf.broker_url
    app.conf["broker_url"] = f"redis://127.0.0.1:{_closed_port()}/0"
    _forget_connections(app)
    try:
        order_advance(tenant_a.order, "assigned")  # commits; the on-commit enqueue fails
    finally:
        app.conf["broker_url"] = broker
        _forget_connections(app)
    assert "could not enqueue the relay" in caplog.text  # the broker really was unreachable
    [event] = [e for e in events_of(tenant_a) if e.kind == "order.status_changed"]
    assert event.relayed_at is None
    with scopes_disabled():
        assert not WebhookDelivery.objects.filter(endpoint=endpoint).exists()
    assert receiver.requests == []
    # The broker is back: the beat sweep finds the organization and the worker relays.
    assert outbox_relay_sweep_run() >= 1
    celery_worker.wait_for(lambda: receiver.requests, "the webhook after the outage")
    [body] = receiver.bodies()
    assert body["type"] == "order.status_changed"
    assert body["data"]["order"]["reference"] == tenant_a.order.reference
    with scopes_disabled():
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert delivery.outbox_event_id == event.pk
    celery_worker.wait_for(
        lambda: events_of(tenant_a)[-1].relayed_at is not None, "the event marked relayed"
    )
