"""The driver app's action endpoint: idempotent, atomic, confined to the driver's own stops."""

from __future__ import annotations

import io
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django_scopes import scope, scopes_disabled
from PIL import Image

from deliveries.models import ActionReceipt, DeliveryEvent, Order, ProofOfDelivery, Route, Stop
from deliveries.services import routes as routing
from deliveries.services.driver_actions import DriverAction, driver_action_apply
from deliveries.services.orders import order_transition
from fleet.models import Device, Driver
from tenancy.context import tenant_context
from tenancy.models import Role
from tests.conftest import Tenant, build_tenant, login
from tests.deliveries.builders import order_build
from tests.support.etas import on_commit_run

URL = "/driver/actions/"


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format=image_format)
    return buffer.getvalue()


def driver_ready(tenant: Tenant, *, status: str = "out_for_delivery") -> Stop:
    """Link the tenant's driver to its driver login and move the stop's order to `status`."""
    organization_id = tenant.organization.pk
    with scope(organization=organization_id):
        Driver.objects.filter(pk=tenant.driver.pk).update(user=tenant.users[Role.DRIVER])
        stop: Stop = tenant.delivery_objects[Stop]
    path = ["assigned", "out_for_delivery", "arrived"]
    for to_status in path[: path.index(status) + 1]:
        with tenant_context(organization_id):
            order_transition(
                organization_id=organization_id,
                order_id=stop.order_id,
                to_status=to_status,
                actor=None,
                source="system",
            )
    return stop


def post(client: Client, key: str, **data: Any) -> Any:
    return client.post(URL, data, HTTP_IDEMPOTENCY_KEY=key)


def events(tenant: Tenant, to_status: str) -> int:
    with scope(organization=tenant.organization.pk):
        assert tenant.order is not None
        return DeliveryEvent.objects.filter(order=tenant.order, to_status=to_status).count()


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.mark.django_db
def test_a_replayed_key_returns_the_same_answer_and_applies_once(tenant_a: Tenant) -> None:
    stop = driver_ready(tenant_a)
    client = login(tenant_a.users[Role.DRIVER])
    key = str(uuid.uuid4())
    first = post(client, key, kind="arrive", stop_id=stop.pk, latitude=52.1, longitude=4.3)
    again = post(client, key, kind="arrive", stop_id=stop.pk, latitude=52.1, longitude=4.3)
    assert first.status_code == again.status_code == 200
    body = first.json()
    assert body["order_status"] == "arrived"
    assert again.json() == body
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert events(tenant_a, "arrived") == 1
    with scope(organization=tenant_a.organization.pk):
        event = DeliveryEvent.objects.get(order_id=stop.order_id, to_status="arrived")
        assert (event.source, event.latitude, event.actor) == (
            "driver",
            52.1,
            tenant_a.users[Role.DRIVER],
        )
        assert Stop.objects.get(pk=stop.pk).actual_arrival is not None
        assert ActionReceipt.objects.filter(key=key).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_apply_once_and_answer_alike() -> None:
    tenant = build_tenant("Alpha")
    stop = driver_ready(tenant)
    user = tenant.users[Role.DRIVER]
    key = str(uuid.uuid4())
    barrier = threading.Barrier(4)
    results: list[Any] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            barrier.wait()
            with tenant_context(tenant.organization.pk):
                results.append(
                    driver_action_apply(
                        organization_id=tenant.organization.pk,
                        user=user,
                        driver_id=tenant.driver.pk,
                        key=key,
                        action=DriverAction(kind="arrive", stop_id=stop.pk),
                    )
                )
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [r.status for r in results] == [200] * 4
    assert len({r.body["order_status"] for r in results}) == 1
    assert len({str(r.body) for r in results}) == 1
    assert sum(1 for r in results if not r.replayed) == 1
    assert events(tenant, "arrived") == 1


@pytest.mark.django_db
def test_an_invalid_transition_is_409_and_a_retry_gets_the_same_409(tenant_a: Tenant) -> None:
    stop = driver_ready(tenant_a)  # out for delivery: not arrived yet
    client = login(tenant_a.users[Role.DRIVER])
    key = str(uuid.uuid4())
    refused = post(client, key, kind="deliver", stop_id=stop.pk, recipient_name="X")
    assert refused.status_code == 409
    assert "cannot become delivered" in refused.json()["detail"]
    assert refused.json()["order_status"] == "out_for_delivery"
    # Even once the move became possible, the key keeps its first answer.
    assert post(client, str(uuid.uuid4()), kind="arrive", stop_id=stop.pk).status_code == 200
    retry = post(client, key, kind="deliver", stop_id=stop.pk, recipient_name="X")
    assert retry.status_code == 409
    assert retry.json()["detail"] == refused.json()["detail"]
    assert events(tenant_a, "delivered") == 0
    with scope(organization=tenant_a.organization.pk):
        assert not ProofOfDelivery.objects.filter(order_id=stop.order_id, recipient_name="X")


@pytest.mark.django_db
def test_another_drivers_stop_is_404_and_changes_nothing(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    driver_ready(tenant_a)
    foreign_stop = driver_ready(tenant_b)
    client = login(tenant_a.users[Role.DRIVER])
    response = post(client, str(uuid.uuid4()), kind="arrive", stop_id=foreign_stop.pk)
    assert response.status_code == 404
    assert client.get(f"/driver/stops/{foreign_stop.pk}/").status_code == 404
    # A colleague in the same organization: their stop is not this driver's either.
    with scope(organization=tenant_a.organization.pk):
        colleague = Driver.objects.create(organization=tenant_a.organization, name="Colleague")
        route = Route.objects.create(
            organization=tenant_a.organization,
            hub=tenant_a.hub,
            date=tenant_a.delivery_objects[Route].date,
            driver=colleague,
        )
    other_order = order_build(tenant_a.organization, tenant_a.hub, reference="OTHER-1")
    with scope(organization=tenant_a.organization.pk):
        other_stop = Stop.objects.create(
            organization=tenant_a.organization, route=route, sequence=1, order=other_order
        )
    response = post(client, str(uuid.uuid4()), kind="arrive", stop_id=other_stop.pk)
    assert response.status_code == 404
    assert client.get(f"/driver/stops/{other_stop.pk}/").status_code == 404
    assert events(tenant_b, "arrived") == 0
    with scopes_disabled():
        assert other_order.events.filter(to_status="arrived").count() == 0
    # Roles other than driver get a JSON 403, anonymous a JSON 401: never a login redirect.
    assert login(tenant_a.users[Role.DISPATCHER]).post(URL, {}).status_code == 403
    assert Client().post(URL, {}).status_code == 401


@pytest.mark.django_db
def test_delivery_stores_the_proof_with_its_geo_stamp(tenant_a: Tenant, media: Path) -> None:
    stop = driver_ready(tenant_a, status="arrived")
    client = login(tenant_a.users[Role.DRIVER])
    response = post(
        client,
        str(uuid.uuid4()),
        kind="deliver",
        stop_id=stop.pk,
        recipient_name="  Jo Recipient ",
        notes="Left with neighbour",
        latitude="52.37401",
        longitude="4.88969",
        accuracy_m="6.5",
        captured_at="2026-01-05T10:15:00+01:00",
        photo=SimpleUploadedFile("IMG_1.heic", image_bytes("JPEG"), "image/heic"),
        signature=SimpleUploadedFile("signature.png", image_bytes("PNG"), "image/png"),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["order_status"] == "delivered"
    with scope(organization=tenant_a.organization.pk):
        proof = ProofOfDelivery.objects.get(pk=body["proof_id"])
        route = Route.objects.get(pk=stop.route_id)
    assert proof.order_id == stop.order_id
    assert proof.recipient_name == "Jo Recipient"
    assert proof.notes == "Left with neighbour"
    assert (proof.latitude, proof.longitude, proof.accuracy_m) == (52.37401, 4.88969, 6.5)
    assert (
        proof.captured_at is not None
        and proof.captured_at.isoformat() == "2026-01-05T09:15:00+00:00"
    )
    assert proof.captured_by == tenant_a.users[Role.DRIVER]
    # The extension is the image's real format, not the name the phone gave it.
    assert proof.photo.name.endswith(".jpg") and proof.signature.name.endswith(".png")
    assert (media / proof.photo.name).exists() and (media / proof.signature.name).exists()
    with Image.open(media / proof.signature.name) as signature:
        assert signature.size == (40, 20)
    assert events(tenant_a, "delivered") == 1
    assert route.status == Route.Status.COMPLETED  # its only stop is done


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "upload", "message"),
    [
        ("photo", SimpleUploadedFile("a.jpg", b"not an image at all", "image/jpeg"), "readable"),
        ("signature", SimpleUploadedFile("s.png", b"", "image/png"), "empty"),
        ("photo", SimpleUploadedFile("a.gif", image_bytes("GIF"), "image/gif"), "JPEG, PNG"),
    ],
)
def test_a_bad_image_is_400_and_changes_nothing(
    tenant_a: Tenant, media: Path, field: str, upload: Any, message: str
) -> None:
    stop = driver_ready(tenant_a, status="arrived")
    client = login(tenant_a.users[Role.DRIVER])
    response = post(client, str(uuid.uuid4()), kind="deliver", stop_id=stop.pk, **{field: upload})
    assert response.status_code == 400
    assert field in response.json()["detail"] and message in response.json()["detail"]
    assert events(tenant_a, "delivered") == 0
    with scope(organization=tenant_a.organization.pk):
        assert not ProofOfDelivery.objects.filter(order_id=stop.order_id).exclude(
            recipient_name__endswith="recipient Person"
        )


@pytest.mark.django_db
def test_an_oversized_photo_is_400(tenant_a: Tenant, media: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr("deliveries.services.driver_actions.PHOTO_MAX_BYTES", 100)
    stop = driver_ready(tenant_a, status="arrived")
    client = login(tenant_a.users[Role.DRIVER])
    photo = SimpleUploadedFile("a.jpg", image_bytes("JPEG", (200, 200)), "image/jpeg")
    response = post(client, str(uuid.uuid4()), kind="deliver", stop_id=stop.pk, photo=photo)
    assert response.status_code == 400
    assert "over" in response.json()["detail"]
    assert events(tenant_a, "delivered") == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "key", "expected"),
    [
        ({"kind": "arrive"}, "", "Idempotency-Key"),
        ({"kind": "teleport"}, "k1", "kind"),
        ({"kind": "arrive", "latitude": "north"}, "k2", "latitude"),
        ({"kind": "arrive", "latitude": "95", "longitude": "4"}, "k3", "Latitude"),
        ({"kind": "arrive", "captured_at": "2026-01-05 10:15"}, "k4", "captured_at"),
        ({"kind": "fail"}, "k5", "reason"),
    ],
)
def test_malformed_actions_are_400(
    tenant_a: Tenant, data: dict[str, Any], key: str, expected: str
) -> None:
    stop = driver_ready(tenant_a, status="arrived")
    client = login(tenant_a.users[Role.DRIVER])
    response = post(client, key, stop_id=stop.pk, **data)
    assert response.status_code == 400
    assert expected in response.json()["detail"]
    assert events(tenant_a, "failed") == events(tenant_a, "delivered") == 0


@pytest.mark.django_db
def test_fail_records_the_reason_and_start_moves_assigned_orders(tenant_a: Tenant) -> None:
    stop = driver_ready(tenant_a, status="assigned")
    client = login(tenant_a.users[Role.DRIVER])
    started = post(client, "start-1", kind="start", route_id=stop.route_id)
    assert started.status_code == 200 and started.json()["route_status"] == "in_progress"
    assert events(tenant_a, "out_for_delivery") == 1
    assert post(client, "arrive-1", kind="arrive", stop_id=stop.pk).status_code == 200
    failed = post(client, "fail-1", kind="fail", stop_id=stop.pk, reason_code="not_home")
    assert failed.status_code == 200 and failed.json()["order_status"] == "failed"
    with scope(organization=tenant_a.organization.pk):
        event = DeliveryEvent.objects.get(order_id=stop.order_id, to_status="failed")
        assert event.failure_reason is not None and event.failure_reason.code == "not_home"


@pytest.mark.django_db
def test_the_page_lists_todays_stops_and_hands_over_a_per_session_phone_token(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    stop = driver_ready(tenant_a)
    user = tenant_a.users[Role.DRIVER]
    first_session = login(user)
    page = first_session.get("/driver/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]  # it carries the device token
    body = page.content.decode()
    assert tenant_a.order is not None and tenant_a.order.customer_name in body
    assert f'id="stop-{stop.pk}"' in body and "geo:" in body
    config = page.context["app_config"]
    token = config["phone"]["token"]
    with scope(organization=tenant_a.organization.pk):
        device = Device.objects.get(identifier=config["phone"]["identifier"])
    assert device.check_token(token) and device.protocol == "json"
    # The route's vehicle has its own tracker: the phone never takes it over.
    assert device.vehicle_id is None
    assert first_session.get("/driver/").context["app_config"]["phone"]["token"] == token
    # A new session rotates the token: the old one stops working.
    second = login(user).get("/driver/").context["app_config"]["phone"]
    assert second["identifier"] == device.identifier and second["token"] != token
    with scope(organization=tenant_a.organization.pk):
        device.refresh_from_db()
    assert device.check_token(second["token"]) and not device.check_token(token)


@pytest.mark.django_db
def test_the_phone_is_bound_to_a_vehicle_without_a_tracker(tenant_a: Tenant) -> None:
    driver_ready(tenant_a)
    with scope(organization=tenant_a.organization.pk):
        Device.objects.filter(pk=tenant_a.device.pk).update(vehicle=None)
    config = login(tenant_a.users[Role.DRIVER]).get("/driver/").context["app_config"]
    with scope(organization=tenant_a.organization.pk):
        device = Device.objects.get(identifier=config["phone"]["identifier"])
    assert device.vehicle_id == tenant_a.vehicle.pk


@pytest.mark.django_db
def test_a_driver_without_a_route_today_sees_a_friendly_empty_state(tenant_a: Tenant) -> None:
    with scope(organization=tenant_a.organization.pk):
        Driver.objects.filter(pk=tenant_a.driver.pk).update(user=tenant_a.users[Role.DRIVER])
        Route.objects.all().update(date="2020-01-01")
    response = login(tenant_a.users[Role.DRIVER]).get("/driver/")
    assert response.status_code == 200
    assert "No route for you today" in response.content.decode()
    assert response.context["app_config"]["phone"] is None


def etas(route_id: int, organization_id: int) -> list[tuple[int, bool, bool]]:
    """(sequence, has an ETA, visited) of the route's stops."""
    with scope(organization=organization_id):
        return [
            (stop.sequence, stop.eta is not None, stop.actual_arrival is not None)
            for stop in Stop.objects.filter(route_id=route_id).order_by("sequence")
        ]


def etas_forget(route_id: int, organization_id: int) -> None:
    with scope(organization=organization_id):
        Stop.objects.filter(route_id=route_id).update(eta=None, eta_updated_at=None)


@pytest.mark.django_db
def test_driver_visits_go_through_routing_and_refresh_the_remaining_etas(
    tenant_a: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    organization_id = tenant_a.organization.pk
    stop = driver_ready(tenant_a, status="assigned")
    route_id = stop.route_id
    following = order_build(tenant_a.organization, tenant_a.hub, reference="NEXT-STOP")
    with tenant_context(organization_id):
        routing.stop_add(organization_id=organization_id, route_id=route_id, order_id=following.pk)
    etas_forget(route_id, organization_id)
    client = login(tenant_a.users[Role.DRIVER])

    # Arriving at a stop of a route nobody dispatched starts it: every order goes out.
    with django_capture_on_commit_callbacks() as callbacks:
        arrived = post(client, "arrive-eta", kind="arrive", stop_id=stop.pk, latitude=52.1,
                       longitude=4.3, captured_at="2026-01-05T10:15:00+01:00")  # fmt: skip
    assert arrived.status_code == 200, arrived.content
    # The driver's request did not wait for the ETAs: one refresh task, enqueued on commit.
    assert not any(has_eta for _, has_eta, _ in etas(route_id, organization_id))
    assert on_commit_run(callbacks) >= 1
    with scope(organization=organization_id):
        route = Route.objects.get(pk=route_id)
        visited = Stop.objects.get(pk=stop.pk)
        assert Order.objects.get(pk=following.pk).status == "out_for_delivery"
    assert route.status == Route.Status.IN_PROGRESS and route.dispatched_at is not None
    assert visited.actual_arrival is not None
    assert visited.actual_arrival.isoformat() == "2026-01-05T09:15:00+00:00"
    # The ETAs of the stops still ahead were recomputed on commit; the visited one has none.
    assert etas(route_id, organization_id) == [(1, False, True), (2, True, False)]

    # Arriving twice is refused by the route's bookkeeping, as a 409 with the order's status.
    again = post(client, "arrive-again", kind="arrive", stop_id=stop.pk)
    assert again.status_code == 409 and again.json()["order_status"] == "arrived"
    assert "already at this stop" in again.json()["detail"]

    etas_forget(route_id, organization_id)
    with django_capture_on_commit_callbacks() as callbacks:
        failed = post(client, "fail-eta", kind="fail", stop_id=stop.pk, reason_code="not_home",
                      notes="Nobody answered")  # fmt: skip
    assert failed.status_code == 200, failed.content
    assert on_commit_run(callbacks) >= 1
    assert etas(route_id, organization_id) == [(1, False, True), (2, True, False)]
    with scope(organization=organization_id):
        event = DeliveryEvent.objects.get(order_id=stop.order_id, to_status="failed")
        assert event.note == "Nobody answered" and event.actor == tenant_a.users[Role.DRIVER]
        assert Stop.objects.get(pk=stop.pk).actual_departure is not None
        assert Route.objects.get(pk=route_id).status == Route.Status.IN_PROGRESS  # one to go


@pytest.mark.django_db
def test_a_delivery_refreshes_the_etas_and_the_last_one_completes_the_route(
    tenant_a: Tenant, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    organization_id = tenant_a.organization.pk
    stop = driver_ready(tenant_a)
    with tenant_context(organization_id):
        routing.route_dispatch(organization_id=organization_id, route_id=stop.route_id)
    following = order_build(tenant_a.organization, tenant_a.hub, reference="NEXT-STOP")
    with tenant_context(organization_id):
        second = routing.stop_add(
            organization_id=organization_id, route_id=stop.route_id, order_id=following.pk
        )
    client = login(tenant_a.users[Role.DRIVER])
    assert post(client, "a-1", kind="arrive", stop_id=stop.pk).status_code == 200
    etas_forget(stop.route_id, organization_id)
    with django_capture_on_commit_callbacks() as callbacks:
        delivered = post(client, "d-1", kind="deliver", stop_id=stop.pk, recipient_name="Jo")
    assert delivered.status_code == 200, delivered.content
    assert on_commit_run(callbacks) >= 1
    assert etas(stop.route_id, organization_id) == [(1, False, True), (2, True, False)]
    assert post(client, "a-2", kind="arrive", stop_id=second.pk).status_code == 200
    assert post(client, "d-2", kind="deliver", stop_id=second.pk).status_code == 200
    with scope(organization=organization_id):
        assert Route.objects.get(pk=stop.route_id).status == Route.Status.COMPLETED
    # A completed route takes no more visits: 409, nothing reopened.
    late = post(client, "a-3", kind="arrive", stop_id=second.pk)
    assert late.status_code == 409 and "completed" in late.json()["detail"]
