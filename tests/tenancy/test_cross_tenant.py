"""Organization A's users, every role, asking for organization B's things: refused, no B data."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_scopes import scopes_disabled

from deliveries.models import Route, WebhookDelivery, WebhookEndpoint
from fleet.models import Device, Driver, Hub, Vehicle, Zone
from reporting.models import DailyRouteRollup, DailyVehicleRollup
from tenancy.models import ApiToken, Membership, Organization, Role
from tests.conftest import Tenant, login
from tests.reporting.builders import tenant_rollups_build
from tests.tenancy import harness

pytestmark = pytest.mark.django_db


class ForeignTenant:
    """Organization B, seen from the harness: its ids and the strings only it contains."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def admin_object(self, model: type) -> object:
        if model is Organization:
            return self.tenant.organization
        if model is get_user_model():
            return self.tenant.users[Role.ADMIN]
        if model is Membership:
            with scopes_disabled():
                return Membership.objects.filter(organization=self.tenant.organization).first()
        if model in (DailyVehicleRollup, DailyRouteRollup):
            # Built on first use: other tests count the rollups they compute.
            route = self.tenant.delivery_objects[Route]
            return tenant_rollups_build(self.tenant.organization, self.tenant.vehicle, route)[model]
        return self.tenant.objects()[model]


def assert_no_foreign_data(body: str, tenant: Tenant, label: str) -> None:
    leaked = [marker for marker in tenant.markers if marker in body]
    assert not leaked, f"{label} leaked organization B's data: {leaked}"


def test_every_url_pattern_is_covered() -> None:
    covered = (
        harness.PLAIN_URLS
        | set(harness.PARAMETER_URLS)
        | set(harness.FOREIGN_ID_URLS)
        | harness.POST_ONLY_URLS
        | harness.admin_url_names()
    )
    missing = sorted(set(harness.iter_url_names()) - covered)
    assert not missing, f"Add these URLs to tests/tenancy/harness.py: {missing}"


@pytest.mark.parametrize("role", Role.values)
def test_foreign_objects_are_refused_for_every_role(
    role: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    client = login(tenant_a.users[role])
    for probe in harness.probes(ForeignTenant(tenant_b)):
        response = client.get(probe.url)
        body = response.content.decode(errors="replace")
        if probe.foreign:
            assert response.status_code in (403, 404), (
                f"{role} got {response.status_code} for B's {probe.label} at {probe.url}"
            )
        else:
            assert response.status_code in (200, 302, 403, 404), (
                f"{role} got {response.status_code} for {probe.label} at {probe.url}"
            )
        assert_no_foreign_data(body, tenant_b, f"{role} {probe.label} {probe.url}")


@pytest.mark.parametrize("role", Role.values)
def test_foreign_ids_in_query_strings_are_refused_or_find_nothing(
    role: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    from urllib.parse import urlencode

    from django.urls import reverse

    client = login(tenant_a.users[role])
    for name, query_of in harness.FOREIGN_QUERY_URLS.items():
        query = query_of(ForeignTenant(tenant_b))
        for key, value in query.items():  # each id alone, then all of them together
            for params in ({key: value}, query):
                url = f"{reverse(name)}?{urlencode(params)}"
                response = client.get(url)
                assert response.status_code in (200, 302, 400, 403, 404), (role, url)
                assert_no_foreign_data(
                    response.content.decode(errors="replace"), tenant_b, f"{role} {url}"
                )


def test_anonymous_users_see_no_tenant_data(tenant_b: Tenant) -> None:
    client = Client()
    for probe in harness.probes(ForeignTenant(tenant_b)):
        response = client.get(probe.url)
        # 401: the API asks for credentials (`WWW-Authenticate: Token`).
        assert response.status_code in (200, 302, 401, 403, 404), probe
        assert_no_foreign_data(response.content.decode(errors="replace"), tenant_b, probe.url)


def test_switching_to_a_foreign_organization_is_refused(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.DISPATCHER])
    client.post("/organization/switch/", {"organization_id": tenant_b.organization.pk})
    response = client.get("/map/")
    assert response.status_code == 200
    body = response.content.decode()
    assert tenant_a.organization.name in body
    assert_no_foreign_data(body, tenant_b, "map after foreign switch")


def test_org_admin_sees_only_own_rows_in_admin(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    response = client.get("/admin/fleet/vehicle/")
    assert response.status_code == 200
    body = response.content.decode()
    assert tenant_a.vehicle.plate in body
    assert tenant_b.vehicle.plate not in body


def test_admin_create_form_offers_only_own_hubs(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    body = client.get("/admin/fleet/vehicle/add/").content.decode()
    assert tenant_a.hub.name in body
    assert tenant_b.hub.name not in body


def test_admin_refuses_a_posted_foreign_hub(tenant_a: Tenant, tenant_b: Tenant) -> None:
    client = login(tenant_a.users[Role.ADMIN])
    response = client.post(
        "/admin/fleet/vehicle/add/",
        {
            "plate": "NEW-1",
            "type": "van",
            "capacity_kg": 500,
            "capacity_volume_l": 1000,
            "hub": tenant_b.hub.pk,
            "tags": "",
            "active": "on",
        },
    )
    assert response.status_code == 200  # the form comes back with an error
    assert "Select a valid choice" in response.content.decode()
    with scopes_disabled():
        assert not Device.objects.filter(vehicle__plate="NEW-1").exists()


def test_superuser_sees_every_organization_in_admin(tenant_a: Tenant, tenant_b: Tenant) -> None:
    from tests.factories import UserFactory

    root = UserFactory.create(username="root", is_superuser=True, is_staff=True)
    body = login(root).get("/admin/fleet/vehicle/").content.decode()
    assert tenant_a.vehicle.plate in body
    assert tenant_b.vehicle.plate in body


def test_api_token_sees_no_foreign_orders(tenant_a: Tenant, tenant_b: Tenant) -> None:
    """A's integration tokens, B's ids: every API URL refuses, none shows B's data. The admin
    token reaches every handler (404 for B's ids); the read-and-orders token is refused the
    admin resources (403) or finds nothing of B's (404)."""
    from tests.deliveries.builders import api_token_of
    from tests.support.api_clients import scoped_token

    _, admin = scoped_token(tenant_a.organization, ["admin"])
    api_probes = [
        p for p in harness.probes(ForeignTenant(tenant_b)) if p.url.startswith("/api/v1/")
    ]
    assert len(api_probes) >= 3
    for probe in api_probes:
        response = Client(HTTP_AUTHORIZATION=f"Token {admin}").get(probe.url)
        expected = (404,) if probe.foreign else (200,)
        assert response.status_code in expected, (probe, response.status_code)
        assert_no_foreign_data(response.content.decode(), tenant_b, f"token {probe.url}")
        narrow = Client(HTTP_AUTHORIZATION=f"Token {api_token_of('Alpha')}").get(probe.url)
        assert narrow.status_code in ((403, 404) if probe.foreign else (200, 403)), probe
        assert_no_foreign_data(narrow.content.decode(), tenant_b, f"narrow token {probe.url}")
    assert tenant_a.order is not None and tenant_b.order is not None
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token_of('Alpha')}")
    listing = client.get("/api/v1/orders/").content.decode()
    assert tenant_a.order.reference in listing


def foreign_api_writes(b: Tenant) -> dict[str, Any]:
    """Each API write that names one of B's objects, with a body valid for B's own admin."""
    return {
        f"/api/v1/devices/{b.device.pk}/rotate-token/": {},
        f"/api/v1/tokens/{b.delivery_objects[ApiToken].pk}/revoke/": {},
        f"/api/v1/webhooks/deliveries/{b.delivery_objects[WebhookDelivery].pk}/replay/": {},
    }


def foreign_rows(b: Tenant) -> list[Any]:
    """B's rows those writes would change, as they are now."""
    with scopes_disabled():
        return [
            Device.objects.filter(pk=b.device.pk).values().get(),
            ApiToken.objects.filter(pk=b.delivery_objects[ApiToken].pk).values().get(),
            list(WebhookDelivery.objects.filter(organization=b.organization).values()),
            WebhookEndpoint.objects.filter(pk=b.delivery_objects[WebhookEndpoint].pk)
            .values()
            .get(),
            Vehicle.objects.filter(pk=b.vehicle.pk).values().get(),
            Driver.objects.filter(pk=b.driver.pk).values().get(),
            Hub.objects.filter(pk=b.hub.pk).values().get(),
            Zone.objects.filter(pk=b.zone.pk).values().get(),
            list(Zone.objects.filter(name="A-ON-B").values()),
            list(Vehicle.objects.filter(plate="A-ON-B").values()),
            list(Driver.objects.filter(name="A-ON-B").values()),
        ]


@pytest.mark.parametrize("credential", ["token", "console-admin"])
def test_foreign_api_writes_are_404_and_change_nothing(
    credential: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """A's admin (an admin token, or a console admin) writing to B's objects: 404, no B data,
    B's rows unchanged."""
    from tests.support.api_clients import scoped_token

    before = foreign_rows(tenant_b)
    if credential == "token":
        _, plain = scoped_token(tenant_a.organization, ["admin"])
        client = Client(HTTP_AUTHORIZATION=f"Token {plain}")
    else:
        client = login(tenant_a.users[Role.ADMIN])
    for url, body in foreign_api_writes(tenant_b).items():
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 404, (url, response.status_code, response.content[:300])
        assert_no_foreign_data(response.content.decode(), tenant_b, f"{credential} {url}")
    endpoint = tenant_b.delivery_objects[WebhookEndpoint]
    for url, body in (
        (f"/api/v1/webhooks/endpoints/{endpoint.pk}/", {"url": "https://a.example/steal"}),
        (f"/api/v1/devices/{tenant_b.device.pk}/", {"name": "stolen", "vehicle": None}),
        (f"/api/v1/vehicles/{tenant_b.vehicle.pk}/", {"name": "stolen", "active": False}),
        (f"/api/v1/drivers/{tenant_b.driver.pk}/", {"name": "stolen", "active": False}),
        (f"/api/v1/hubs/{tenant_b.hub.pk}/", {"name": "stolen", "code": "stolen"}),
        (f"/api/v1/zones/{tenant_b.zone.pk}/", {"properties": {"name": "stolen", "hub": None}}),
    ):
        change = client.patch(url, body, content_type="application/json")
        assert change.status_code == 404, (url, change.content[:300])
        assert_no_foreign_data(change.content.decode(), tenant_b, f"{credential} PATCH {url}")
    gone = client.delete(f"/api/v1/webhooks/endpoints/{endpoint.pk}/")
    assert gone.status_code == 404, gone.content[:300]
    assert_no_foreign_data(gone.content.decode(), tenant_b, f"{credential} DELETE endpoint")
    # A vehicle of A's on B's hub or with B's driver, a driver on B's hub: refused by name.
    for url, body in (
        ("/api/v1/vehicles/", {"plate": "A-ON-B", "hub": tenant_b.hub.pk}),
        (
            "/api/v1/vehicles/",
            {"plate": "A-ON-B", "hub": tenant_a.hub.pk, "driver": tenant_b.driver.pk},
        ),
        ("/api/v1/drivers/", {"name": "A-ON-B", "hub": tenant_b.hub.pk}),
        (
            "/api/v1/zones/",
            {
                "type": "Feature",
                "geometry": tenant_b.zone.geometry,
                "properties": {"name": "A-ON-B", "hub": tenant_b.hub.pk},
            },
        ),
    ):
        made = client.post(url, body, content_type="application/json")
        assert made.status_code == 400, made.content[:300]
        assert_no_foreign_data(made.content.decode(), tenant_b, f"{credential} vehicle {body}")
    # A's own device put on B's vehicle: refused by name, nothing of B's named.
    moved = client.patch(
        f"/api/v1/devices/{tenant_a.device.pk}/",
        {"vehicle": tenant_b.vehicle.pk},
        content_type="application/json",
    )
    assert moved.status_code == 400, moved.content[:300]
    assert_no_foreign_data(moved.content.decode(), tenant_b, f"{credential} device to B's van")
    assert foreign_rows(tenant_b) == before


def test_the_event_feed_shows_only_the_tokens_organization(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """The feed is read through the token's organization (RLS): B's events never reach A's
    token, whatever cursor it sends; B's own token sees B's."""
    from tenancy.api.feed import cursor_encode
    from tests.deliveries.builders import api_token_of

    # Events of this test's own (uncommitted) transaction are not final, so the feed is empty
    # here; tests/api/test_event_feed.py commits both tenants' events and reads them for real.
    alpha = Client(HTTP_AUTHORIZATION=f"Token {api_token_of('Alpha')}")
    for since in ("", cursor_encode(0, 0)):
        response = alpha.get("/api/v1/events/", {"since": since} if since else {})
        assert response.status_code == 200
        assert_no_foreign_data(response.content.decode(), tenant_b, "event feed")
    bad = alpha.get("/api/v1/events/", {"since": "not-a-cursor"})
    assert bad.status_code == 400


@pytest.mark.parametrize("role", Role.values)
def test_foreign_order_transition_is_refused(role: str, tenant_a: Tenant, tenant_b: Tenant) -> None:
    from deliveries.models import Order

    assert tenant_b.order is not None
    url = f"/api/v1/orders/{tenant_b.order.pk}/transition/"
    for client in (
        login(tenant_a.users[role]),
        Client(HTTP_AUTHORIZATION="Token alpha-api-token-secret-0123456789"),
    ):
        response = client.post(url, {"to_status": "assigned"}, content_type="application/json")
        assert response.status_code in (403, 404), (role, response.status_code)
        assert_no_foreign_data(response.content.decode(), tenant_b, f"{role} transition")
    with scopes_disabled():
        assert Order.objects.get(pk=tenant_b.order.pk).status == "created"


@pytest.mark.parametrize("role", Role.values)
def test_foreign_route_api_writes_are_refused(
    role: str, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    """A's members and A's token, B's route, stop, order and hub: refused (403/404, or 400
    naming the foreign id in the body), no B data in any answer, B's plan untouched."""
    from deliveries.models import Order, Stop

    route_b, stop_b = tenant_b.delivery_objects[Route], tenant_b.delivery_objects[Stop]
    route_a = tenant_a.delivery_objects[Route]
    assert tenant_b.order is not None
    on_b = f"/api/v1/routes/{route_b.pk}"
    on_a = f"/api/v1/routes/{route_a.pk}"
    foreign_paths: list[tuple[str, dict[str, Any]]] = [
        (f"{on_b}/stops/", {"order": stop_b.order_id, "plan_version": 0}),
        (f"{on_b}/stops/{stop_b.pk}/move/", {"sequence": 1, "plan_version": 0}),
        (f"{on_b}/stops/{stop_b.pk}/remove/", {"plan_version": 0}),
        (f"{on_b}/dispatch/", {"plan_version": 0}),
        (f"{on_b}/stops/reorder/", {"stops": [stop_b.pk], "plan_version": 0}),
        # A's own route with B's stop: no such stop on it.
        (f"{on_a}/stops/{stop_b.pk}/move/", {"sequence": 1, "plan_version": 0}),
        (f"{on_a}/stops/{stop_b.pk}/remove/", {"plan_version": 0}),
    ]
    foreign_bodies: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/routes/", {"hub": tenant_b.hub.pk, "date": "2030-01-01"}),
        (f"{on_a}/stops/", {"order": tenant_b.order.pk, "plan_version": 0}),
    ]
    # A's own route's new order naming B's stop: not A's route's stops (422, A's ids only).
    stop_a = tenant_a.delivery_objects[Stop]
    foreign_members = [
        (f"{on_a}/stops/reorder/", {"stops": [stop_b.pk], "plan_version": 0}),
        (f"{on_a}/stops/reorder/", {"stops": [stop_a.pk, stop_b.pk], "plan_version": 0}),
    ]
    for client in (
        login(tenant_a.users[role]),
        Client(HTTP_AUTHORIZATION="Token alpha-api-token-secret-0123456789"),
    ):
        for url, body in foreign_paths:
            response = client.post(url, body, content_type="application/json")
            assert response.status_code in (403, 404), (role, url, response.status_code)
            assert_no_foreign_data(response.content.decode(), tenant_b, f"{role} {url}")
        for url, body in foreign_bodies:
            response = client.post(url, body, content_type="application/json")
            assert response.status_code in (400, 403), (role, url, response.status_code)
            assert_no_foreign_data(response.content.decode(), tenant_b, f"{role} {url}")
        for url, body in foreign_members:
            response = client.post(url, body, content_type="application/json")
            assert response.status_code in (403, 422), (role, url, response.status_code)
            assert_no_foreign_data(response.content.decode(), tenant_b, f"{role} {url}")
            if response.status_code == 422:
                assert response.json()["stop_ids"] == [stop_a.pk]
        # The crew of B's route (404), and B's vehicle or driver for A's route (400).
        for url, body, refused in (
            (f"{on_b}/", {"vehicle": None, "plan_version": 0}, (403, 404)),
            (f"{on_a}/", {"vehicle": tenant_b.vehicle.pk, "plan_version": 0}, (400, 403)),
            (f"{on_a}/", {"driver": tenant_b.driver.pk, "plan_version": 0}, (400, 403)),
        ):
            response = client.patch(url, body, content_type="application/json")
            assert response.status_code in refused, (role, url, body, response.status_code)
            assert_no_foreign_data(response.content.decode(), tenant_b, f"{role} PATCH {url}")
    with scopes_disabled():
        route_b.refresh_from_db()
        assert (route_b.status, route_b.plan_version) == ("planned", 0)
        assert route_b.vehicle_id == tenant_b.vehicle.pk
        route_a.refresh_from_db()
        assert route_a.vehicle_id != tenant_b.vehicle.pk
        assert route_a.driver_id != tenant_b.driver.pk
        assert list(Stop.objects.filter(route=route_b).values_list("pk", flat=True)) == [stop_b.pk]
        assert Order.objects.get(pk=tenant_b.order.pk).status == "created"
        assert not Route.objects.filter(hub=tenant_b.hub, date="2030-01-01").exists()


def test_alert_notification_tasks_act_for_their_organization_only(
    tenant_a: Tenant, tenant_b: Tenant, settings: Any
) -> None:
    """The alerts' tasks take organization_id and see nothing of another organization: A's
    send task with B's notification key sends nothing, A's minute tick leaves B's rows alone.
    (The inbox websocket: tests/alerts/test_inbox_socket.py::test_alerts_reach_their_organization_only.)"""
    from alerts.models import Notification
    from alerts.notifications.tasks import notification_send, notifications_tick_organization
    from tests.alerts.factories import alert_open
    from tests.support.outbox import outbox_relay_now

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with scopes_disabled():
        for user in tenant_b.users.values():
            user.email = f"{user.username}@b.example"
            user.save(update_fields=["email"])
    alert_open(tenant_b.organization.pk)
    outbox_relay_now(tenant_b.organization.pk)
    with scopes_disabled():
        pending = Notification.objects.get(organization=tenant_b.organization, channel="email")
    assert notification_send(tenant_a.organization.pk, pending.key) is False
    assert notifications_tick_organization(tenant_a.organization.pk) == 0
    with scopes_disabled():
        pending.refresh_from_db()
    assert pending.status == "pending" and pending.attempts == 0


@pytest.mark.parametrize("role", Role.values)
def test_foreign_alert_actions_are_refused(role: str, tenant_a: Tenant, tenant_b: Tenant) -> None:
    from alerts.models import Alert

    alert_id = tenant_b.alert_ids()[0]
    for client in (
        login(tenant_a.users[role]),
        Client(HTTP_AUTHORIZATION="Token alpha-api-token-secret-0123456789"),
    ):
        for action, body in alert_api_actions(tenant_b).items():
            response = client.post(
                f"/api/v1/alerts/{alert_id}/{action}/", body, content_type="application/json"
            )
            assert response.status_code in (403, 404), (role, action, response.status_code)
            assert_no_foreign_data(response.content.decode(), tenant_b, f"{role} alert {action}")
    with scopes_disabled():
        alert = Alert.objects.get(pk=alert_id)
        assert (alert.status, alert.assignee_id, alert.snoozed_until) == ("open", None, None)
        assert list(alert.events.values_list("kind", flat=True)) == ["opened"]


def alert_api_actions(b: Tenant) -> dict[str, dict[str, Any]]:
    """Each alerts API action with a body that would be valid for B's own member."""
    return {
        "acknowledge": {},
        "resolve": {},
        "assign": {"assignee_id": b.users[Role.DISPATCHER].pk},
        "snooze": {"minutes": 30},
        "note": {"note": "A's note"},
    }


def test_rollup_tasks_act_for_their_organization_only(tenant_a: Tenant, tenant_b: Tenant) -> None:
    """A's rollup tasks (a day's recompute, the dirty-day sweep) neither read nor write B's
    rollups or marks; B's route day stays dirty and unrolled."""
    import datetime as dt

    from deliveries.models import Route
    from reporting.models import DailyEtaErrorHistogram, DailyRouteRollup, RollupDirtyMark
    from reporting.tasks import rollups_compute_day, rollups_recompute_dirty

    day = dt.date.today() - dt.timedelta(days=3)
    with scopes_disabled():
        b_rollups = list(
            DailyRouteRollup.objects.filter(organization=tenant_b.organization).values_list(
                "pk", "computed_at"
            )
        )
        # B's hub-day bins of the very day A recomputes (A's pass rewrites its own bins).
        b_bin = DailyEtaErrorHistogram.objects.create(
            organization=tenant_b.organization, day=day, hub_id=tenant_b.hub.pk,
            horizon_minutes=30, error_plus_1=2,
        )  # fmt: skip
        route_b = Route.objects.create(
            organization=tenant_b.organization, hub=tenant_b.hub, date=day
        )
        RollupDirtyMark.objects.create(
            organization=tenant_b.organization,
            kind="route",
            subject_id=route_b.pk,
            day=day,
            marked_at=dt.datetime.now(dt.UTC),
        )
    rollups_compute_day.apply(args=[tenant_a.organization.pk, day.isoformat()]).get()
    rollups_recompute_dirty.apply(args=[tenant_a.organization.pk]).get()
    with scopes_disabled():
        assert RollupDirtyMark.objects.filter(organization=tenant_b.organization).count() == 1
        assert list(
            DailyEtaErrorHistogram.objects.filter(organization=tenant_b.organization).values_list(
                "pk", "error_plus_1"
            )
        ) == [(b_bin.pk, 2)]
        assert b_rollups == list(
            DailyRouteRollup.objects.filter(organization=tenant_b.organization).values_list(
                "pk", "computed_at"
            )
        )
