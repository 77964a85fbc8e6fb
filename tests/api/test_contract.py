"""The API-wide contract (tenancy/api/): problem details for every error, strict input, cursor
pagination, ETag, idempotency, 409 of a duplicate reference, rate limits, token scopes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from deliveries.models import Order
from tenancy.models import IdempotencyReceipt
from tests.conftest import Tenant
from tests.deliveries.builders import api_token_of
from tests.support.api_clients import scoped_client, scoped_token
from tests.support.at_once import at_once
from tests.support.problems import problem_fields, problem_of

ORDERS = "/api/v1/orders/"


def token_client(label: str = "Alpha", **extra: Any) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_of(label)}", **extra)


def fresh_ip() -> str:
    """An address no earlier run counted (the limiter's windows live in Redis)."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


def new_order(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    return {
        "reference": f"C-{uuid.uuid4().hex[:10]}",
        "customer_name": "Contract Customer",
        "address": "1 Contract Street",
        "hub": tenant.hub.pk,
        "latitude": 52.3,
        "longitude": 4.9,
        **fields,
    }


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, body, content_type="application/json", headers=headers)


# --- problems -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_error_is_a_problem(tenant_a: Tenant) -> None:
    client = token_client()
    problem_of(client.get("/api/v1/no-such-thing/"), 404)  # Django's 404 page, as a problem
    problem_of(client.get(f"{ORDERS}999999999/"), 404)
    problem_of(Client().get(ORDERS), 401)
    problem_of(Client(HTTP_AUTHORIZATION="Token nope").get(ORDERS), 401)
    problem_of(client.delete(ORDERS), 405)
    problem_of(client.get(ORDERS, HTTP_ACCEPT="application/xml"), 406)
    problem_of(client.post(ORDERS, "a=1", content_type="application/x-www-form-urlencoded"), 415)
    body = problem_of(post(client, ORDERS, {"reference": ""}), 400)
    assert body["type"].endswith("/invalid-request")
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/reference", "/customer_name", "/address", "/hub"} <= pointers


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_a_problem_that_says_so(
    tenant_a: Tenant, settings: Any
) -> None:
    # Django refuses it before DRF reads it (a 400 page without words): the problem still
    # has a detail (schemathesis found a null one with a zone of many rings).
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = problem_of(post(token_client(), ORDERS, {"notes": "x" * 2000}), 400)
    assert isinstance(body["detail"], str) and body["detail"]


@pytest.mark.django_db
def test_a_bug_under_api_is_a_json_500(tenant_a: Tenant, monkeypatch: Any) -> None:
    from deliveries.api import views

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.selectors, "order_get", broken)
    client = token_client()
    client.raise_request_exception = False
    body = problem_of(client.get(f"{ORDERS}{tenant_a.order.pk}/"), 500)  # type: ignore[union-attr]
    assert "a bug" not in str(body)  # nothing of the fault leaks


# --- strict input -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"limit": "abc"},
        {"limit": "-5"},
        {"limit": "0"},
        {"limit": "501"},
        {"needs_coordinates": "maybe"},
        {"hub": "1.5"},
        {"cursor": "garbage"},
        {"updated_since": "2026-12-02T10:00:00"},
        {"window_to": ""},
    ],
)
def test_bad_query_parameters_are_refused_by_name(tenant_a: Tenant, query: dict[str, str]) -> None:
    response = token_client().get(ORDERS, query)
    assert response.status_code == 400
    assert problem_fields(response) == set(query)


@pytest.mark.django_db
def test_unknown_read_only_and_naive_fields_are_refused(tenant_a: Tenant) -> None:
    client = token_client()
    response = post(client, ORDERS, new_order(tenant_a, id=5, status="delivered", colour="red"))
    assert problem_fields(response) == {"id", "status", "colour"}
    naive = post(client, ORDERS, new_order(tenant_a, window_start="2030-12-02T10:00:00"))
    assert problem_fields(naive) == {"window_start"}
    assert "time zone" in problem_of(naive)["errors"][0]["detail"]
    backwards = new_order(
        tenant_a, window_start="2030-12-02T10:00:00Z", window_end="2030-12-02T09:00:00Z"
    )
    assert problem_fields(post(client, ORDERS, backwards)) == {"window_end"}
    half = post(client, ORDERS, new_order(tenant_a, longitude=None))
    assert problem_fields(half) == {"latitude"}
    blank_email = post(client, ORDERS, new_order(tenant_a, email=""))
    assert problem_fields(blank_email) == {"email"}
    with scopes_disabled():
        assert not Order.objects.filter(customer_name="Contract Customer").exists()


@pytest.mark.django_db
def test_no_coordinates_without_a_geocoder_is_refused(tenant_a: Tenant, settings: Any) -> None:
    settings.GEOCODER_URL = ""
    payload = new_order(tenant_a, latitude=None, longitude=None)
    response = post(token_client(), ORDERS, payload)
    assert problem_fields(response) == {"latitude"}
    settings.GEOCODER_URL = "http://geocoder.invalid/"
    assert post(token_client(), ORDERS, payload).status_code == 201


@pytest.mark.django_db
def test_created_answers_location_and_null_email(tenant_a: Tenant) -> None:
    response = post(token_client(), ORDERS, new_order(tenant_a))
    assert response.status_code == 201
    assert response["Location"] == f"{ORDERS}{response.json()['id']}/"
    assert response.json()["email"] is None
    assert token_client().get(response["Location"]).status_code == 200


@pytest.mark.django_db
def test_cursor_pages_stay_put_while_orders_are_added(tenant_a: Tenant) -> None:
    client = token_client()
    for _ in range(7):
        assert post(client, ORDERS, new_order(tenant_a)).status_code == 201
    with scopes_disabled():
        before = set(
            Order.objects.filter(organization=tenant_a.organization).values_list("pk", flat=True)
        )
    seen: list[int] = []
    url: str | None = f"{ORDERS}?limit=2"
    while url:
        page = client.get(url).json()
        seen.extend(row["id"] for row in page["results"])
        # Orders arrive between the reads (an offset would now shift by one: a row twice).
        post(client, ORDERS, new_order(tenant_a))
        url = page["next"]
    assert len(seen) == len(set(seen))  # no order twice
    assert before <= set(seen)  # none of those there at the start skipped
    assert seen == sorted(seen)


# --- 409, idempotency ----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_existing_reference_is_409_naming_the_order(tenant_a: Tenant) -> None:
    assert tenant_a.order is not None
    response = post(token_client(), ORDERS, new_order(tenant_a, reference=tenant_a.order.reference))
    body = problem_of(response, 409)
    assert body["id"] == tenant_a.order.pk
    assert body["location"] == f"{ORDERS}{tenant_a.order.pk}/"


@pytest.mark.django_db
def test_same_key_same_body_replays_other_body_is_422(tenant_a: Tenant) -> None:
    client = token_client()
    payload = new_order(tenant_a)
    first = post(client, ORDERS, payload, **{"Idempotency-Key": "k-1"})
    again = post(client, ORDERS, payload, **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    with scopes_disabled():
        assert Order.objects.filter(reference=payload["reference"]).count() == 1
    other = post(client, ORDERS, {**payload, "address": "2 Other St"}, **{"Idempotency-Key": "k-1"})
    assert problem_of(other, 422)["type"].endswith("/idempotency-key-reused")
    # A refusal is an answer too: replayed, not re-run.
    bad = {**payload, "reference": ""}
    refused = post(client, ORDERS, bad, **{"Idempotency-Key": "k-2"})
    assert refused.status_code == 400
    assert post(client, ORDERS, bad, **{"Idempotency-Key": "k-2"}).json() == refused.json()
    # Keys are per credential: another token's k-1 is its own.
    assert (
        post(
            token_client("Alpha"), ORDERS, new_order(tenant_a), **{"Idempotency-Key": ""}
        ).status_code
        == 400
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_order(tenant_a: Tenant) -> None:
    payload = new_order(tenant_a)
    answers = at_once(
        lambda: post(token_client(), ORDERS, payload, **{"Idempotency-Key": "race"}), times=4
    )
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.has_header("Idempotent-Replayed") for a in answers) == 3
    with scopes_disabled():
        assert Order.objects.filter(reference=payload["reference"]).count() == 1
        assert IdempotencyReceipt.objects.filter(key="race").count() == 1


# --- ETag ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_etag_and_if_none_match(tenant_a: Tenant) -> None:
    client = token_client()
    url = f"{ORDERS}{tenant_a.order.pk}/"  # type: ignore[union-attr]
    first = client.get(url)
    etag = first["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    listing = client.get(ORDERS)
    assert client.get(ORDERS, HTTP_IF_NONE_MATCH=listing["ETag"]).status_code == 304
    transition = post(client, f"{url}transition/", {"to_status": "cancelled"})
    assert transition.status_code == 200
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


# --- rate limits and scopes ----------------------------------------------------------------


@pytest.mark.django_db
def test_a_token_over_its_limit_gets_429_with_retry_after(tenant_a: Tenant, settings: Any) -> None:
    settings.API_RATE_LIMIT_PER_TOKEN = 3
    client = scoped_client(tenant_a, ["read"])
    assert [client.get(ORDERS).status_code for _ in range(3)] == [200] * 3
    refused = client.get(ORDERS)
    problem_of(refused, 429)
    assert 1 <= int(refused["Retry-After"]) <= settings.API_RATE_LIMIT_PERIOD


@pytest.mark.django_db
def test_a_tokens_limit_holds_whatever_address_it_comes_from(
    tenant_a: Tenant, settings: Any
) -> None:
    """Counted per token, not per connection or address: an integration spreading its calls
    over many addresses still meets its allowance."""
    settings.API_RATE_LIMIT_PER_TOKEN = 2
    _, plain = scoped_token(tenant_a.organization, ["read"])
    statuses = [
        Client(HTTP_AUTHORIZATION=f"Token {plain}", REMOTE_ADDR=fresh_ip()).get(ORDERS)
        for _ in range(3)
    ]
    assert [answer.status_code for answer in statuses] == [200, 200, 429]
    assert "token" in problem_of(statuses[2], 429)["detail"]
    assert int(statuses[2]["Retry-After"]) >= 1


@pytest.mark.django_db
def test_an_address_over_its_limit_gets_429(tenant_a: Tenant, settings: Any) -> None:
    settings.API_RATE_LIMIT_PER_IP = 2
    client = token_client(REMOTE_ADDR=fresh_ip())
    assert [client.get(ORDERS).status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/v1/whatever/")
    assert problem_of(refused, 429) and int(refused["Retry-After"]) >= 1
    assert token_client(REMOTE_ADDR=fresh_ip()).get(ORDERS).status_code == 200


@pytest.mark.django_db
def test_repeated_wrong_tokens_slow_down(tenant_a: Tenant, settings: Any) -> None:
    settings.API_BAD_TOKENS_PER_IP = 3
    wrong = Client(HTTP_AUTHORIZATION="Token wrong", REMOTE_ADDR=fresh_ip())
    assert [wrong.get(ORDERS).status_code for _ in range(3)] == [401] * 3
    slowed = wrong.get(ORDERS)
    assert problem_of(slowed, 429) and int(slowed["Retry-After"]) >= 1


@pytest.mark.django_db
def test_scopes_are_enforced_per_operation(tenant_a: Tenant) -> None:
    reader = scoped_client(tenant_a, ["read"])
    assert reader.get(ORDERS).status_code == 200
    refused = post(reader, ORDERS, new_order(tenant_a))
    assert "orders" in problem_of(refused, 403)["detail"]
    assert (
        post(scoped_client(tenant_a, ["tracking"]), ORDERS, new_order(tenant_a)).status_code == 403
    )
    assert post(scoped_client(tenant_a, ["orders"]), ORDERS, new_order(tenant_a)).status_code == 201
    assert post(scoped_client(tenant_a, ["admin"]), ORDERS, new_order(tenant_a)).status_code == 201


# --- schema --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schema_documents_every_plumbing_answer(tenant_a: Tenant) -> None:
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    assert "Problem" in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        if not path.startswith("/api/v1/") or path == "/api/v1/positions/batch/":
            continue
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"401", "403", "406", "429", "500"} <= codes, (method, path)
            assert "Token scope" in operation["description"], (method, path)
            assert operation.get("summary"), (method, path)  # a title in the docs' list
            if method == "post":
                assert {"400", "415", "422"} <= codes, (method, path)
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    assert "application/problem+json" in response["content"], (code, path)
    create = schema["paths"]["/api/v1/orders/"]["post"]
    assert {"201", "409"} <= set(create["responses"])
    retry = create["responses"]["429"]["headers"]
    assert "Retry-After" in retry
    # The ingest path's batch API, with its own (device token) scheme.
    batch = schema["paths"]["/api/v1/positions/batch/"]["post"]
    assert batch["security"] == [{"deviceToken": []}]
    assert schema["components"]["securitySchemes"]["deviceToken"]["scheme"] == "bearer"
    assert {"200", "400", "401", "413", "503"} <= set(batch["responses"])
