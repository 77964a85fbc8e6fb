"""The customer's public tracking page: what it shows, what it never shows, and its limits."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import zoneinfo
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from django_scopes import scope

from deliveries.models import Order, OrderStatus, ProofOfDelivery, Route, Stop
from deliveries.selectors.tracking import (
    EN_DASH,
    eta_window,
    first_name,
    span_text,
    steps_build,
    vehicle_shown,
)
from deliveries.services.orders import order_transition
from fleet.models import Driver, VehicleState
from tenancy.api.ratelimit import client_ip
from tenancy.context import tenant_context
from tenancy.models import Role
from tests.conftest import Tenant, login
from tests.deliveries.builders import order_build

S = OrderStatus
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
# A fixed day far from today, so the texts carry their date: Monday 3 June 2030.
DAY = dt.datetime(2030, 6, 3, 12, 0, tzinfo=dt.UTC)


def random_address() -> str:
    return "10." + ".".join(str(secrets.randbelow(250) + 1) for _ in range(3))


def visitor() -> Client:
    """An anonymous client with an address of its own: rate-limit counters live in Redis for a
    minute, across tests and test runs, so each client gets a fresh one."""
    return Client(REMOTE_ADDR=random_address())


@dataclass
class Street:
    """One route of organization A: the neighbour is stop 1, the customer we follow stop 2."""

    tenant: Tenant
    route: Route
    neighbour: Order
    mine: Order
    driver: Driver

    def move(self, order: Order, *statuses: str, reason: str | None = None) -> None:
        for status in statuses:
            with tenant_context(self.tenant.organization.pk):
                order_transition(
                    organization_id=self.tenant.organization.pk,
                    order_id=order.pk,
                    to_status=status,
                    actor=None,
                    source="driver",
                    reason_code=reason if status == S.FAILED else None,
                )

    def stop_of(self, order: Order) -> Stop:
        with scope(organization=self.tenant.organization.pk):
            return Stop.objects.get(route=self.route, order=order)

    def vehicle_at(self, lat: float, lon: float, *, age: dt.timedelta = dt.timedelta()) -> None:
        fix_time = timezone.now() - age
        with scope(organization=self.tenant.organization.pk):
            VehicleState.objects.update_or_create(
                vehicle=self.tenant.vehicle,
                defaults={
                    "organization": self.tenant.organization,
                    "fix_time": fix_time,
                    "server_time": fix_time,
                    "latitude": lat,
                    "longitude": lon,
                    "status": VehicleState.Status.MOVING,
                },
            )

    def page(self, client: Client | None = None) -> str:
        response = (client or visitor()).get(f"/track/{self.mine.tracking_code}/")
        assert response.status_code == 200
        return response.content.decode()

    def status(self, client: Client | None = None) -> dict[str, Any]:
        response = (client or visitor()).get(f"/track/{self.mine.tracking_code}/status.json")
        assert response.status_code == 200
        return dict(response.json())


@pytest.fixture
def street(tenant_a: Tenant) -> Street:
    organization, hub = tenant_a.organization, tenant_a.hub
    organization.timezone = "Europe/Amsterdam"
    organization.save(update_fields=["timezone"])
    neighbour = order_build(
        organization,
        hub,
        reference="NEIGHBOUR-77",
        customer_name="Nina Neighbourly",
        address="3 Elm Lane",
        phone="+31 6 7777 0000",
        latitude=52.3500,
        longitude=4.8600,
    )
    mine = order_build(
        organization,
        hub,
        reference="MINE-42",
        customer_name="Carla Customer",
        address="7 Oak Street",
        latitude=52.3700,
        longitude=4.9000,
        window_start=DAY,
        window_end=DAY + dt.timedelta(hours=2),
    )
    with scope(organization=organization.pk):
        driver = Driver.objects.create(
            organization=organization, name="Dana Vermeulen", phone="+31 6 1234 9999"
        )
        route = Route.objects.create(
            organization=organization,
            hub=hub,
            date=timezone.localdate(),
            vehicle=tenant_a.vehicle,
            driver=driver,
        )
        Stop.objects.create(organization=organization, route=route, sequence=1, order=neighbour)
        Stop.objects.create(
            organization=organization,
            route=route,
            sequence=2,
            order=mine,
            eta=DAY + dt.timedelta(minutes=3),
        )
    street = Street(tenant_a, route, neighbour, mine, driver)
    street.move(neighbour, S.ASSIGNED, S.OUT_FOR_DELIVERY)
    street.move(mine, S.ASSIGNED)
    return street


def json_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in json_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in json_keys(item)}
    return set()


# ---- What the page shows ------------------------------------------------------------------------


def test_page_shows_status_window_eta_and_organization(street: Street) -> None:
    response = visitor().get(f"/track/{street.mine.tracking_code}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "MINE-42" in body
    assert "Scheduled for delivery" in body
    assert street.tenant.organization.name in body
    # 12:00-14:00 UTC is 14:00-16:00 in Amsterdam; the ETA 14:03 becomes a rounded window.
    assert f"Mon 03 Jun, 14:00{EN_DASH}16:00" in body
    assert f"Mon 03 Jun, 13:50{EN_DASH}14:15" in body
    assert "14:03" not in body
    assert '<meta name="robots" content="noindex, nofollow">' in body
    assert response["Cache-Control"] == "private, no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    # Public page: none of the console's chrome.
    assert "topbar" not in body and "/admin/" not in body


def test_status_json_carries_the_same_filtered_data(street: Street) -> None:
    response = visitor().get(f"/track/{street.mine.tracking_code}/status.json")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    data = response.json()
    assert data["reference"] == "MINE-42"
    assert data["status"] == "assigned"
    assert data["eta_window"] == f"Mon 03 Jun, 13:50{EN_DASH}14:15"
    assert data["window"] == f"Mon 03 Jun, 14:00{EN_DASH}16:00"
    assert data["vehicle"] is None and data["proof"] is None
    assert "code" not in data and "id" not in json_keys(data)
    # Exactly these fields: a new one must be a decision, not an accident.
    assert set(data) == {
        "reference",
        "organization_name",
        "status",
        "headline",
        "message",
        "steps",
        "window",
        "eta_window",
        "late",
        "driver_first_name",
        "stops_before",
        "vehicle",
        "destination",
        "proof",
        "final",
        "updated",
    }
    assert data["final"] is False


def test_a_late_risk_is_told_in_plain_words(street: Street) -> None:
    assert "running later than planned" not in street.page()
    stop = street.stop_of(street.mine)
    with scope(organization=street.tenant.organization.pk):
        Stop.objects.filter(pk=stop.pk).update(late_risk=True)
    assert street.status()["late"] is True
    assert "running later than planned" in street.page()


def test_timeline_follows_the_order_in_customer_words(street: Street) -> None:
    street.move(street.mine, S.OUT_FOR_DELIVERY)
    steps = street.status()["steps"]
    assert [(s["label"], s["state"]) for s in steps] == [
        ("Order received", "done"),
        ("Out for delivery", "current"),
        ("Driver at your door", "upcoming"),
        ("Delivered", "upcoming"),
    ]
    assert steps[1]["at"] and not steps[2]["at"]
    assert 'aria-current="step"' in street.page()


def test_a_failed_attempt_reads_as_a_miss_without_internal_reasons(street: Street) -> None:
    street.move(street.mine, S.OUT_FOR_DELIVERY, S.ARRIVED, S.FAILED, reason="not_home")
    data = street.status()
    assert data["headline"] == "We missed you"
    assert data["steps"][-1] == {
        "label": "Delivery attempt failed",
        "state": "current",
        "tone": "delivery-failed",
        "at": data["steps"][-1]["at"],
    }
    assert data["eta_window"] == ""
    assert data["final"] is False  # a new attempt may follow: the page keeps polling
    assert "Not home" not in street.page()  # the organization's internal reason label


# ---- What it never shows ------------------------------------------------------------------------


def test_tracking_page_isolation_no_other_customer_ever_appears(street: Street) -> None:
    """Tracking-page isolation: two orders on one route; neither page shows the other."""
    street.move(street.neighbour, S.ARRIVED)
    street.move(street.mine, S.OUT_FOR_DELIVERY)
    street.vehicle_at(52.3501, 4.8601)  # at the neighbour's door, 3.5 km from mine
    neighbour = street.neighbour
    secrets = [
        neighbour.customer_name,
        neighbour.address,
        neighbour.reference,
        neighbour.tracking_code,
        neighbour.phone,
        "Vermeulen",  # the driver's surname
        street.driver.phone,
        street.tenant.vehicle.plate,
        street.tenant.hub.name,
        "Carla Customer",  # even the customer's own name and address are not needed here
        "7 Oak Street",
    ]
    for text in (street.page(), json.dumps(street.status(), ensure_ascii=False)):
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, leaked
        assert "Dana" in text  # the driver's first name is all the customer gets
    data = street.status()
    assert data["stops_before"] == 1
    assert data["vehicle"] is None and data["destination"] is None
    assert "id" not in json_keys(data)
    # And the neighbour's own page shows nothing of ours.
    other = visitor().get(f"/track/{neighbour.tracking_code}/").content.decode()
    assert "MINE-42" not in other and street.mine.tracking_code not in other


def test_vehicle_hidden_while_other_stops_come_first_and_it_is_far(street: Street) -> None:
    street.move(street.mine, S.OUT_FOR_DELIVERY)
    street.vehicle_at(52.3400, 4.8500)  # ~4.5 km away, the neighbour still to serve
    body = street.page()
    assert "Your driver is on the way, <strong>1 stop</strong> before yours." in body
    assert "tracking-map" not in body.replace('id="tracking-config"', "")
    assert "52.34" not in body and "4.85" not in body
    assert street.status()["vehicle"] is None


def test_vehicle_shown_once_this_order_is_the_next_stop(street: Street) -> None:
    street.move(street.mine, S.OUT_FOR_DELIVERY)
    street.vehicle_at(52.3400, 4.8500)
    street.move(street.neighbour, S.ARRIVED, S.DELIVERED)
    data = street.status()
    assert data["stops_before"] == 0
    assert data["vehicle"] == {"lat": 52.34, "lon": 4.85}
    assert data["destination"] == {"lat": 52.37, "lon": 4.9}
    assert 'id="tracking-map"' in street.page()


def test_vehicle_shown_when_it_is_near_even_with_a_stop_before(street: Street) -> None:
    street.move(street.mine, S.OUT_FOR_DELIVERY)
    street.vehicle_at(52.3650, 4.8950)  # ~650 m away
    data = street.status()
    assert data["stops_before"] == 1
    assert data["vehicle"] == {"lat": 52.365, "lon": 4.895}


def test_a_stale_position_is_not_shown(street: Street) -> None:
    street.move(street.mine, S.OUT_FOR_DELIVERY)
    street.move(street.neighbour, S.ARRIVED, S.DELIVERED)
    street.vehicle_at(52.3650, 4.8950, age=dt.timedelta(hours=1))
    data = street.status()
    assert data["stops_before"] == 0 and data["vehicle"] is None
    assert "you're the next stop" in street.page()


def test_no_vehicle_before_the_order_is_out_for_delivery(street: Street) -> None:
    street.move(street.neighbour, S.ARRIVED, S.DELIVERED)
    street.vehicle_at(52.3650, 4.8950)
    data = street.status()
    assert data["status"] == "assigned"
    assert data["vehicle"] is None and data["stops_before"] is None
    assert data["driver_first_name"] == ""


# ---- Proof of delivery --------------------------------------------------------------------------


def test_proof_shown_once_delivered(
    street: Street, settings: Any, tmp_path: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    street.move(street.mine, S.OUT_FOR_DELIVERY, S.ARRIVED)
    organization = street.tenant.organization
    with scope(organization=organization.pk):
        proof = ProofOfDelivery(
            organization=organization,
            order=street.mine,
            recipient_name="J. Doorman",
            captured_at=dt.datetime(2030, 6, 3, 12, 7, 31, tzinfo=dt.UTC),
        )
        proof.photo.save("door.jpg", ContentFile(b"\xff\xd8\xff\xe0 not really a jpeg"), save=False)
        proof.save()
    assert "J. Doorman" not in street.page()  # arrived, not delivered yet
    street.move(street.mine, S.DELIVERED)
    body = street.page()
    assert "Proof of delivery" in body and "J. Doorman" in body
    assert "Mon 03 Jun, 14:07" in body and "14:07:31" not in body
    data = street.status()["proof"]
    photo = f"/track/{street.mine.tracking_code}/pod/{proof.pk}/photo/"
    assert data["photo_url"] == photo and f'href="{photo}"' in body
    # The link really serves this proof's photo to the holder of the code.
    streamed = visitor().get(photo)
    assert streamed.status_code == 200
    assert b"".join(streamed.streaming_content).startswith(b"\xff\xd8\xff")  # type: ignore[attr-defined]
    assert data["signature_url"] is None  # no signature captured, no link
    assert str(proof.photo.name) not in body
    assert street.status()["final"] is True and "refreshes every" not in body


# ---- Unknown codes, methods, limits ------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["doesnotexist0000000000", "x", "a" * 300, "%27%20OR%201%3D1", "MINE-42", "%00"]
)
def test_unknown_or_malformed_code_gets_the_friendly_404(street: Street, code: str) -> None:
    client = visitor()
    page = client.get(f"/track/{code}/")
    assert page.status_code == 404
    assert "We can't find this delivery" in page.content.decode()
    assert page["Cache-Control"] == "private, no-store"
    status = client.get(f"/track/{code}/status.json")
    assert status.status_code == 404
    assert status.json() == {"error": "not_found"}


def test_a_near_miss_of_a_real_code_finds_nothing(street: Street) -> None:
    code = street.mine.tracking_code
    near = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert visitor().get(f"/track/{near}/").status_code == 404
    assert (
        visitor()
        .get(f"/track/{code.upper() if code.upper() != code else code.lower()}/")
        .status_code
        == 404
    )


def test_only_get_is_served(street: Street) -> None:
    client = visitor()
    assert client.post(f"/track/{street.mine.tracking_code}/").status_code == 405
    assert client.post(f"/track/{street.mine.tracking_code}/status.json").status_code == 405


def _away_from_a_minute_boundary() -> None:
    # The limiter counts per wall-clock minute; a test straddling two would see two budgets.
    if time.time() % 60 > 55:
        time.sleep(6)


def test_rate_limit_answers_429_with_retry_after(street: Street, settings: Any) -> None:
    settings.TRACKING_RATE_LIMIT_PER_MINUTE = 3
    _away_from_a_minute_boundary()
    client = visitor()
    url = f"/track/{street.mine.tracking_code}/"
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    assert client.get(url + "status.json").status_code == 200  # one budget for both
    refused = client.get(url)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "MINE-42" not in refused.content.decode()
    refused_json = client.get(url + "status.json")
    assert refused_json.status_code == 429
    assert refused_json.json()["error"] == "too_many_requests"
    # Unknown codes count too: guessing is throttled the same way.
    assert client.get("/track/guess000000000000000/").status_code == 429
    # Another address has its own budget.
    assert visitor().get(url).status_code == 200


def test_rate_limit_uses_the_forwarded_address_only_behind_trusted_proxies(
    street: Street, settings: Any
) -> None:
    settings.TRACKING_RATE_LIMIT_PER_MINUTE = 1
    _away_from_a_minute_boundary()
    url = f"/track/{street.mine.tracking_code}/status.json"
    proxy = random_address()
    settings.RATE_LIMIT_TRUSTED_PROXIES = 1
    customer = random_address()
    first = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=customer)
    second = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=random_address())
    assert first.get(url).status_code == 200
    assert second.get(url).status_code == 200  # same proxy, different customers
    assert first.get(url).status_code == 429
    # A forged header in front of the proxy's own entry changes nothing.
    forged = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"{random_address()}, {customer}")
    assert forged.get(url).status_code == 429


def test_a_cache_outage_lets_customers_through(street: Street, settings: Any) -> None:
    # Nothing listens on port 1: every counter update fails, the page must still answer.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    settings.TRACKING_RATE_LIMIT_PER_MINUTE = 1
    client = visitor()
    assert [client.get(f"/track/{street.mine.tracking_code}/").status_code for _ in range(3)] == [
        200,
        200,
        200,
    ]


# ---- Tenancy: the code is the only key ---------------------------------------------------------


@pytest.mark.parametrize("role", [None, *Role.values])
def test_a_code_of_b_shows_only_b_whoever_asks(
    role: str | None, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    assert tenant_b.order is not None and tenant_a.order is not None
    client = login(tenant_a.users[role]) if role else Client()
    client.defaults["REMOTE_ADDR"] = random_address()
    url = f"/track/{tenant_b.order.tracking_code}/"
    body = client.get(url).content.decode()
    assert tenant_b.order.reference in body
    leaked = [marker for marker in tenant_a.markers if marker in body]
    assert not leaked, leaked
    # A's session changes nothing: the same answer as for a stranger.
    assert client.get(url + "status.json").json() == visitor().get(url + "status.json").json()


# ---- Pure pieces -------------------------------------------------------------------------------


def test_eta_window_rounds_outward_to_five_minutes() -> None:
    eta = dt.datetime(2030, 6, 3, 12, 3, 17, tzinfo=dt.UTC)
    start, end = eta_window(eta)
    assert (start.time(), end.time()) == (dt.time(11, 50), dt.time(12, 15))
    exact = dt.datetime(2030, 6, 3, 12, 0, tzinfo=dt.UTC)
    assert [t.time() for t in eta_window(exact)] == [dt.time(11, 50), dt.time(12, 10)]


def test_span_text_names_the_day_only_when_it_is_not_today() -> None:
    start = dt.datetime(2030, 6, 3, 12, 0, tzinfo=dt.UTC)
    end = start + dt.timedelta(minutes=20)
    assert span_text(start, end, tz=AMSTERDAM, today=dt.date(2030, 6, 3)) == f"14:00{EN_DASH}14:20"
    assert (
        span_text(start, end, tz=AMSTERDAM, today=dt.date(2030, 6, 2))
        == f"Mon 03 Jun, 14:00{EN_DASH}14:20"
    )
    overnight = span_text(
        start, start + dt.timedelta(hours=12), tz=AMSTERDAM, today=dt.date(2030, 6, 3)
    )
    assert overnight == f"14:00 {EN_DASH} Tue 04 Jun, 02:00"


def test_steps_mark_never_reached_steps_of_a_cancelled_order_as_skipped() -> None:
    steps = steps_build(S.CANCELLED, {S.CREATED: "09:00", S.CANCELLED: "09:30"})
    assert [(s.label, s.state, s.at) for s in steps] == [
        ("Order received", "done", "09:00"),
        ("Out for delivery", "skipped", ""),
        ("Driver at your door", "skipped", ""),
        ("Cancelled", "current", "09:30"),
    ]
    assert steps[-1].tone == "delivery-cancelled"
    assert steps_build(S.RETURNED_TO_HUB, {})[-1].tone == "delivery-returned"


def test_vehicle_shown_only_when_next_or_near_and_on_the_road() -> None:
    assert vehicle_shown(status=S.OUT_FOR_DELIVERY, stops_before=0, distance_m=9_000)
    assert vehicle_shown(status=S.OUT_FOR_DELIVERY, stops_before=4, distance_m=1_500)
    assert not vehicle_shown(status=S.OUT_FOR_DELIVERY, stops_before=1, distance_m=2_500)
    assert not vehicle_shown(status=S.OUT_FOR_DELIVERY, stops_before=1, distance_m=None)
    assert not vehicle_shown(status=S.ASSIGNED, stops_before=0, distance_m=100)
    assert not vehicle_shown(status=S.DELIVERED, stops_before=0, distance_m=100)


def test_first_name_only() -> None:
    assert first_name("Dana Vermeulen") == "Dana"
    assert first_name("  ") == ""


def test_client_ip_trusts_only_our_proxies(rf: Any, settings: Any) -> None:
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1, 2.2.2.2")
    settings.RATE_LIMIT_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.1"
    settings.RATE_LIMIT_TRUSTED_PROXIES = 1
    assert client_ip(request) == "2.2.2.2"
    settings.RATE_LIMIT_TRUSTED_PROXIES = 3  # more proxies than entries: fall back to the peer
    assert client_ip(request) == "10.0.0.1"
