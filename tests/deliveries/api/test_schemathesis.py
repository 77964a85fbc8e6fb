"""Property-based API test: schemathesis generates requests from the live OpenAPI schema and
sends them in-process (WSGI) with a valid token. Whatever it sends, the API never answers 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, given, settings

from tests.conftest import Tenant
from tests.deliveries.builders import api_token_of

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 25


@pytest.fixture
def wsgi_app() -> Iterator[Any]:
    # Like Django's test client: keep the test's connection (and its transaction) open across
    # requests instead of closing it at the end of each one.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def api_operations(wsgi_app: Any, prefix: str) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    operations: list[Any] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema fails here
        if operation.path.startswith(prefix):
            operations.append(operation)
    return operations


def never_5xx(operations: list[Any], headers: dict[str, str], known: dict[str, int]) -> None:
    for operation in operations:

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            # Half the time aim at a real object, so actions and the timeline get exercised.
            if case.path_parameters and hash(str(case.body)) % 2:
                case.path_parameters.update(known)
            # Each example starts from the same data (and a failure cannot poison the next).
            savepoint = transaction.savepoint()
            try:
                response = case.call(headers=headers)
            finally:
                transaction.savepoint_rollback(savepoint)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:500]}"
            )

        check()


def test_orders_api_never_answers_5xx(tenant_a: Tenant, wsgi_app: Any) -> None:
    operations = api_operations(wsgi_app, "/api/v1/orders/")
    assert len(operations) == 11  # with an order's proofs
    assert tenant_a.order is not None
    headers = {"Authorization": f"Token {api_token_of('Alpha')}"}
    never_5xx(operations, headers, {"order_id": tenant_a.order.pk})


def test_alerts_api_never_answers_5xx(tenant_a: Tenant, wsgi_app: Any) -> None:
    operations = api_operations(wsgi_app, "/api/v1/alerts/")
    # list, detail, acknowledge, resolve, assign, snooze, note
    assert len(operations) == 7
    # This token lacks the alerts scope: the actions answer 403 before the body is read;
    # tests/alerts/test_api.py runs them with an alerts token and with a session.
    headers = {"Authorization": f"Token {api_token_of('Alpha')}"}
    never_5xx(operations, headers, {"alert_id": tenant_a.alert_ids()[0]})


def test_reports_api_never_answers_5xx(tenant_a: Tenant, wsgi_app: Any) -> None:
    operations = api_operations(wsgi_app, "/api/v1/reports/")
    assert len(operations) == 2
    headers = {"Authorization": f"Token {api_token_of('Alpha')}"}
    never_5xx(operations, headers, {"kind": "trips"})  # type: ignore[dict-item]


def test_kpis_api_never_answers_5xx(tenant_a: Tenant, wsgi_app: Any) -> None:
    operations = api_operations(wsgi_app, "/api/v1/kpis/")
    assert len(operations) == 3  # summary, daily, breakdown
    headers = {"Authorization": f"Token {api_token_of('Alpha')}"}
    never_5xx(operations, headers, {"by": "vehicle"})  # type: ignore[dict-item]


def test_routes_api_never_answers_5xx(tenant_a: Tenant, wsgi_app: Any) -> None:
    from deliveries.models import Route, Stop

    operations = api_operations(wsgi_app, "/api/v1/routes/")
    # list, create, detail, crew change (PATCH), dispatch, add, reorder, stop detail, move, remove
    assert len(operations) == 10
    headers = {"Authorization": f"Token {api_token_of('Alpha')}"}
    known = {
        "route_id": tenant_a.delivery_objects[Route].pk,
        "stop_id": tenant_a.delivery_objects[Stop].pk,
    }
    never_5xx(operations, headers, known)


def test_admin_resources_never_answer_5xx(tenant_a: Tenant, wsgi_app: Any) -> None:
    """Devices, API tokens, webhooks, proofs and failure reasons, with an admin token so that
    every handler runs (its own revocation is a 409, so it stays usable)."""
    from deliveries.models import ProofOfDelivery, WebhookDelivery, WebhookEndpoint
    from tenancy.models import ApiToken
    from tests.support.api_clients import scoped_token

    prefixes = ("devices/", "tokens/", "webhooks/", "proofs/", "failure-reasons/")
    operations = [op for p in prefixes for op in api_operations(wsgi_app, f"/api/v1/{p}")]
    assert len(operations) == 5 + 5 + 8 + 2 + 1  # devices with PATCH, webhooks with DELETE
    _, admin = scoped_token(tenant_a.organization, ["admin"])
    objects = tenant_a.delivery_objects
    known = {
        "device_id": tenant_a.device.pk,
        "token_id": objects[ApiToken].pk,
        "endpoint_id": objects[WebhookEndpoint].pk,
        "delivery_id": objects[WebhookDelivery].pk,
        "proof_id": objects[ProofOfDelivery].pk,
    }
    never_5xx(operations, {"Authorization": f"Token {admin}"}, known)
