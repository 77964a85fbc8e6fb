"""Live ETAs: the arithmetic on a known route, the providers (a real local OSRM/Valhalla-shaped
HTTP server, and the fallback when it is down), and the throttled refresh on new positions."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import kombu
import pytest
from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from deliveries.models import Route, Stop, WebhookDelivery, WebhookEndpoint, WebhookEvent
from deliveries.resolvers import route_etas_organizations_due
from deliveries.services import eta
from deliveries.services.eta import (
    GreatCircleProvider,
    OsrmProvider,
    StopPlan,
    ValhallaProvider,
    etas_compute,
    provider_for_hub,
    route_etas_refresh,
    route_ids_due_for_refresh,
)
from deliveries.services.routes import route_create, route_dispatch, stop_add, stops_reorder
from deliveries.tasks import route_etas_refresh_moved, route_etas_refresh_organization
from fleet.models import Hub, VehicleState
from tenancy.context import tenant_context
from tests.deliveries.builders import order_build
from tests.factories import DeviceFactory, HubFactory
from tests.support.celery import CeleryWorker
from tests.support.etas import on_commit_run
from tests.support.outbox import outbox_relay_now

T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
# 0.01 degree of latitude on the mean-radius sphere: 6 371 008.8 m x pi / 18 000.
METRES_PER_CENTIDEGREE = 6_371_008.8 * math.pi / 18_000  # 1111.95 m
SECONDS_AT_30 = METRES_PER_CENTIDEGREE / (30 / 3.6)  # 133.43 s


def test_great_circle_durations_at_30_kmh_without_detour() -> None:
    provider = GreatCircleProvider(speed_kmh=30, detour_factor=1.0)
    legs = provider.durations([(52.0, 4.0), (52.01, 4.0), (52.03, 4.0)])
    assert legs == pytest.approx([133.43, 266.87], abs=0.01)
    assert legs[0] == pytest.approx(SECONDS_AT_30, abs=1e-6)
    assert provider.durations([(52.0, 4.0)]) == []


def test_the_detour_factor_and_speed_scale_the_time() -> None:
    legs = GreatCircleProvider(speed_kmh=15, detour_factor=1.5).durations(
        [(52.0, 4.0), (52.01, 4.0)]
    )
    assert legs[0] == pytest.approx(SECONDS_AT_30 * 2 * 1.5, abs=0.01)


def test_etas_add_service_time_and_wait_for_windows() -> None:
    stops = [
        StopPlan(service_seconds=300),
        # Reached at 09:12:46.9; the window opens at 09:30, so service starts then.
        StopPlan(service_seconds=120, window_start=T0 + dt.timedelta(minutes=30)),
        StopPlan(service_seconds=60, window_end=T0 + dt.timedelta(minutes=31)),
    ]
    result = etas_compute(start=T0, legs=[100.0, 200.0, 50.0], stops=stops)
    assert [r.eta for r in result] == [
        T0 + dt.timedelta(seconds=100),
        T0 + dt.timedelta(seconds=100 + 300 + 200),
        T0 + dt.timedelta(minutes=30, seconds=120 + 50),
    ]
    # 09:32:50 is past the 09:31 window end: late risk; the others have no end to miss.
    assert [r.late_risk for r in result] == [False, False, True]


# -- the database refresh on a known route ----------------------------------------------------


@pytest.fixture
def known_route(db: Any) -> dict[str, Any]:
    """A hub at 52.00N 4.00E driving 30 km/h straight lines, and a route due north of it."""
    hub = HubFactory.create(latitude=52.0, longitude=4.0, eta_speed_kmh=30, eta_detour_factor=1.0)
    organization = hub.organization
    device = DeviceFactory.create(organization=organization, vehicle__hub=hub)
    vehicle = device.vehicle
    assert vehicle is not None
    with tenant_context(organization.pk):
        route = route_create(
            organization_id=organization.pk,
            hub_id=hub.pk,
            date=T0.date(),
            vehicle_id=vehicle.pk,
            driver_id=vehicle.driver_id,
        )
    first = order_build(
        organization, hub, reference="NORTH-1", latitude=52.01, longitude=4.0,
        service_minutes=5, window_start=None, window_end=T0 + dt.timedelta(minutes=1),
    )  # fmt: skip
    second = order_build(
        organization, hub, reference="NORTH-2", latitude=52.02, longitude=4.0,
        service_minutes=3, window_start=None, window_end=None,
    )  # fmt: skip
    with tenant_context(organization.pk):
        stops = [
            stop_add(organization_id=organization.pk, route_id=route.pk, order_id=order.pk)
            for order in (first, second)
        ]
    return {"organization": organization, "hub": hub, "vehicle": vehicle, "device": device,
            "route": route, "stops": stops}  # fmt: skip


def stop_state(route: Route) -> list[tuple[str, dt.datetime, bool]]:
    """(reference, ETA, late risk) of each stop in order; every stop must have an ETA."""
    state = []
    with scopes_disabled():
        stops = Stop.objects.filter(route=route).select_related("order").order_by("sequence")
        for stop in stops:
            assert stop.eta is not None, stop.order.reference
            state.append((stop.order.reference, stop.eta, stop.late_risk))
    return state


def test_eta_on_a_known_route_from_the_hub(known_route: dict[str, Any]) -> None:
    organization, route = known_route["organization"], known_route["route"]
    with tenant_context(organization.pk):
        route_etas_refresh(organization_id=organization.pk, route_id=route.pk, now=T0)
    (ref1, eta1, late1), (ref2, eta2, late2) = stop_state(route)
    assert (ref1, ref2) == ("NORTH-1", "NORTH-2")
    assert abs((eta1 - T0).total_seconds() - SECONDS_AT_30) < 1  # 133 s north of the hub
    # ...then 5 minutes of service and another 0.01 degree.
    assert abs((eta2 - T0).total_seconds() - (2 * SECONDS_AT_30 + 300)) < 1
    assert late1 is True  # 09:02:13 is after the 09:01 window end
    assert late2 is False  # no window
    with scopes_disabled():
        assert all(s.eta_updated_at == T0 for s in Stop.objects.filter(route=route))


def test_eta_starts_from_the_vehicles_last_fix(known_route: dict[str, Any]) -> None:
    organization, route = known_route["organization"], known_route["route"]
    with scopes_disabled():
        VehicleState.objects.create(
            organization=organization, vehicle=known_route["vehicle"], fix_time=T0,
            server_time=T0, latitude=52.015, longitude=4.0,
        )  # fmt: skip
    with tenant_context(organization.pk):
        route_etas_refresh(organization_id=organization.pk, route_id=route.pk, now=T0)
    (_, eta1, _), (_, eta2, _) = stop_state(route)
    # Half a leg back south to NORTH-1, then service, then a whole leg north.
    assert abs((eta1 - T0).total_seconds() - SECONDS_AT_30 / 2) < 1
    assert abs((eta2 - T0).total_seconds() - (SECONDS_AT_30 * 1.5 + 300)) < 1


def test_a_reorder_refreshes_the_etas(
    known_route: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    organization, route, stops = (
        known_route["organization"], known_route["route"], known_route["stops"],
    )  # fmt: skip
    with tenant_context(organization.pk):
        route_etas_refresh(organization_id=organization.pk, route_id=route.pk)
    before = dict((ref, when) for ref, when, _ in stop_state(route))
    assert before["NORTH-1"] < before["NORTH-2"]
    with django_capture_on_commit_callbacks() as callbacks, tenant_context(organization.pk):
        stops_reorder(
            organization_id=organization.pk,
            route_id=route.pk,
            stop_ids=[stops[1].pk, stops[0].pk],
        )
    # The request itself refreshed nothing: the refresh is one task, enqueued on commit.
    assert [ref for ref, _, _ in stop_state(route)] == ["NORTH-2", "NORTH-1"]
    assert dict((ref, when) for ref, when, _ in stop_state(route)) == before
    assert on_commit_run(callbacks) == 1
    after = stop_state(route)
    assert [ref for ref, _, _ in after] == ["NORTH-2", "NORTH-1"]
    (_, eta_far, _), (_, eta_near, _) = after
    # Far stop first now (two legs out), then back one leg after its 3 minutes of service.
    assert abs((eta_near - eta_far).total_seconds() - (180 + SECONDS_AT_30)) < 1
    assert eta_far > before["NORTH-1"]


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sending a task meets a broker port where nothing listens: a real refused socket (the
    outage the fallback is for), without touching the app's shared connection pools."""
    from config.celery import app

    def refused(*args: Any, **kwargs: Any) -> None:
        with kombu.Connection("redis://127.0.0.1:1/0", connect_timeout=1) as connection:
            connection.ensure_connection(max_retries=1)

    monkeypatch.setattr(app, "send_task", refused)


def test_without_a_broker_a_plan_change_refreshes_the_etas_inline(
    known_route: dict[str, Any], django_capture_on_commit_callbacks: Any, broker_down: None
) -> None:
    organization, route, stops = (
        known_route["organization"], known_route["route"], known_route["stops"],
    )  # fmt: skip
    with tenant_context(organization.pk):
        route_etas_refresh(organization_id=organization.pk, route_id=route.pk)
    before = dict((ref, when) for ref, when, _ in stop_state(route))
    with django_capture_on_commit_callbacks() as callbacks, tenant_context(organization.pk):
        stops_reorder(
            organization_id=organization.pk,
            route_id=route.pk,
            stop_ids=[stops[1].pk, stops[0].pk],
        )
    # The commit's callback, outside any tenant context as a real commit runs it: the send is
    # refused, so the refresh runs right here instead of leaving stale ETAs.
    (callback,) = [c for c in callbacks if isinstance(c, eta.RouteEtasRefreshEnqueue)]
    callback()
    after = dict((ref, when) for ref, when, _ in stop_state(route))
    assert after["NORTH-2"] < after["NORTH-1"]  # the far stop is now first, and its ETA says so
    assert after["NORTH-1"] > before["NORTH-1"]


def test_several_plan_changes_in_one_transaction_enqueue_one_refresh(
    known_route: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    organization, route, stops = (
        known_route["organization"], known_route["route"], known_route["stops"],
    )  # fmt: skip
    extra = order_build(organization, known_route["hub"], reference="NORTH-3", latitude=52.03,
                        longitude=4.0)  # fmt: skip
    with (
        django_capture_on_commit_callbacks() as callbacks,
        tenant_context(organization.pk),
        transaction.atomic(),
    ):
        stops_reorder(
            organization_id=organization.pk, route_id=route.pk,
            stop_ids=[stops[1].pk, stops[0].pk],
        )  # fmt: skip
        stop_add(organization_id=organization.pk, route_id=route.pk, order_id=extra.pk)
    assert on_commit_run(callbacks) == 1
    # ...and the one refresh saw the plan as committed: all three stops have their ETAs.
    assert [ref for ref, _, _ in stop_state(route)] == ["NORTH-2", "NORTH-1", "NORTH-3"]


def test_an_eta_that_moves_more_than_five_minutes_is_announced(known_route: dict[str, Any]) -> None:
    organization, route = known_route["organization"], known_route["route"]
    with scope(organization=organization.pk):
        WebhookEndpoint.objects.create(
            organization=organization, name="eta", url="http://127.0.0.1:9/",
            events=[WebhookEvent.ORDER_ETA_CHANGED],
        )  # fmt: skip
    with tenant_context(organization.pk):
        assert route_etas_refresh(organization_id=organization.pk, route_id=route.pk, now=T0) == []
    # Two minutes later: every ETA moves two minutes, not worth a message.
    later = T0 + dt.timedelta(minutes=2)
    with tenant_context(organization.pk):
        assert (
            route_etas_refresh(organization_id=organization.pk, route_id=route.pk, now=later) == []
        )
    much_later = T0 + dt.timedelta(minutes=20)
    with tenant_context(organization.pk):
        changes = route_etas_refresh(
            organization_id=organization.pk, route_id=route.pk, now=much_later
        )
    assert len(changes) == 2
    outbox_relay_now(organization.pk)  # the events reach the webhooks through the outbox
    with scope(organization=organization.pk):
        deliveries = list(WebhookDelivery.objects.filter(event=WebhookEvent.ORDER_ETA_CHANGED))
    assert len(deliveries) == 2
    assert {d.payload["order"]["reference"] for d in deliveries} == {"NORTH-1", "NORTH-2"}


# -- routing servers ------------------------------------------------------------------------------

POINTS = [(52.0, 4.0), (52.01, 4.0), (52.02, 4.01)]
FALLBACK = GreatCircleProvider(30, 1.0)


def test_osrm_provider_reads_leg_durations_from_a_real_server(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def osrm(request: Request) -> Response:
        seen.append(request)
        body = {"code": "Ok", "routes": [{"legs": [{"duration": 101.5}, {"duration": 250.0}]}]}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request(
        "/route/v1/driving/4.000000,52.000000;4.000000,52.010000;4.010000,52.020000"
    ).respond_with_handler(osrm)
    provider = OsrmProvider(httpserver.url_for("/"), FALLBACK)
    assert provider.durations(POINTS) == [101.5, 250.0]
    assert seen[0].args["overview"] == "false"


def test_valhalla_provider_reads_leg_times_from_a_real_server(httpserver: HTTPServer) -> None:
    body = {"trip": {"legs": [{"summary": {"time": 90.0}}, {"summary": {"time": 45.5}}]}}
    httpserver.expect_request("/route", method="POST").respond_with_json(body)
    provider = ValhallaProvider(httpserver.url_for("/"), FALLBACK)
    assert provider.durations(POINTS) == [90.0, 45.5]
    sent = json.loads(httpserver.log[0][0].get_data())
    assert sent["locations"][2] == {"lat": 52.02, "lon": 4.01}


def test_a_routing_server_that_is_down_falls_back_to_great_circle(httpserver: HTTPServer) -> None:
    url = httpserver.url_for("/")
    httpserver.stop()  # nothing listens there any more
    provider = OsrmProvider(url, FALLBACK, timeout=1.0)
    assert provider.durations(POINTS) == FALLBACK.durations(POINTS)
    httpserver.start()


@pytest.mark.parametrize(
    "answer",
    [
        Response("boom", status=500),
        Response(json.dumps({"code": "NoRoute", "message": "Impossible route"}), status=200),
        Response(json.dumps({"code": "Ok", "routes": [{"legs": [{"duration": 1}]}]}), status=200),
        Response("not json", status=200),
    ],
    ids=["http-500", "no-route", "wrong-leg-count", "garbage"],
)
def test_a_routing_server_answering_nonsense_falls_back(
    httpserver: HTTPServer, answer: Response
) -> None:
    httpserver.expect_request("/route/v1/driving/", method="GET").respond_with_response(answer)
    httpserver.expect_request(
        "/route/v1/driving/4.000000,52.000000;4.000000,52.010000;4.010000,52.020000"
    ).respond_with_response(answer)
    provider = OsrmProvider(httpserver.url_for("/"), FALLBACK)
    assert provider.durations(POINTS) == FALLBACK.durations(POINTS)


@pytest.mark.django_db
def test_provider_follows_the_settings() -> None:
    hub = Hub(latitude=52.0, longitude=4.0, eta_speed_kmh=20, eta_detour_factor=1.2)
    assert provider_for_hub(hub) == GreatCircleProvider(20, 1.2)
    with override_settings(
        DOORSTEP_ROUTING_PROVIDER="osrm", DOORSTEP_ROUTING_URL="http://osrm:5000"
    ):
        osrm = provider_for_hub(hub)
    assert isinstance(osrm, OsrmProvider) and osrm.url == "http://osrm:5000"
    assert osrm.fallback == GreatCircleProvider(20, 1.2)
    with override_settings(DOORSTEP_ROUTING_PROVIDER="valhalla", DOORSTEP_ROUTING_URL="http://v"):
        assert isinstance(provider_for_hub(hub), ValhallaProvider)
    with override_settings(DOORSTEP_ROUTING_PROVIDER="osrm", DOORSTEP_ROUTING_URL=""):
        assert isinstance(provider_for_hub(hub), GreatCircleProvider)


def test_a_configured_osrm_server_drives_the_route_etas(
    known_route: dict[str, Any], httpserver: HTTPServer
) -> None:
    body = {"code": "Ok", "routes": [{"legs": [{"duration": 600.0}, {"duration": 60.0}]}]}
    httpserver.expect_request(
        "/route/v1/driving/4.000000,52.000000;4.000000,52.010000;4.000000,52.020000"
    ).respond_with_json(body)
    organization, route = known_route["organization"], known_route["route"]
    with (
        override_settings(
            DOORSTEP_ROUTING_PROVIDER="osrm", DOORSTEP_ROUTING_URL=httpserver.url_for("/")
        ),
        tenant_context(organization.pk),
    ):
        route_etas_refresh(organization_id=organization.pk, route_id=route.pk, now=T0)
    (_, eta1, _), (_, eta2, _) = stop_state(route)
    assert eta1 == T0 + dt.timedelta(seconds=600)
    assert eta2 == T0 + dt.timedelta(seconds=600 + 300 + 60)


# -- refresh on new positions (throttled by beat) ------------------------------------------------


def test_only_routes_whose_vehicle_moved_since_the_last_refresh_are_due(
    known_route: dict[str, Any],
) -> None:
    organization, route, vehicle = (
        known_route["organization"], known_route["route"], known_route["vehicle"],
    )  # fmt: skip
    with tenant_context(organization.pk):
        assert route_ids_due_for_refresh(organization_id=organization.pk) == []  # planned, no fix
    with tenant_context(organization.pk):
        route_dispatch(organization_id=organization.pk, route_id=route.pk)
    with tenant_context(organization.pk):
        assert route_ids_due_for_refresh(organization_id=organization.pk) == []  # no fix yet
    fix = timezone.now()
    with scopes_disabled():
        state = VehicleState.objects.create(
            organization=organization, vehicle=vehicle, fix_time=fix, server_time=fix,
            latitude=52.005, longitude=4.0,
        )  # fmt: skip
    with tenant_context(organization.pk):
        assert route_ids_due_for_refresh(organization_id=organization.pk) == [route.pk]
    assert route_etas_organizations_due() == [organization.pk]  # the beat's fan-out
    assert route_etas_refresh_organization.apply((organization.pk,)).get() == 1
    (_, eta1, _), _ = stop_state(route)
    assert abs((eta1 - timezone.now()).total_seconds() - SECONDS_AT_30 / 2) < 3
    with tenant_context(organization.pk):
        assert route_ids_due_for_refresh(organization_id=organization.pk) == []
    assert route_etas_organizations_due() == []
    assert route_etas_refresh_moved() == 0  # the beat sends nothing
    with scopes_disabled():
        state.server_time = state.fix_time = timezone.now() + dt.timedelta(seconds=5)
        state.save()
    with tenant_context(organization.pk):
        assert route_ids_due_for_refresh(organization_id=organization.pk) == [route.pk]
    assert route_etas_organizations_due() == [organization.pk]


def test_the_refresh_task_is_registered_and_scheduled() -> None:
    from config.celery import app

    assert "deliveries.route_etas_refresh_moved" in app.tasks
    assert {eta.ROUTE_ETAS_REFRESH_TASK, "deliveries.route_etas_refresh_organization"} <= set(
        app.tasks
    )
    assert "deliveries.demo_progress" in app.tasks
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"deliveries.route_etas_refresh_moved", "deliveries.demo_progress"} <= scheduled
    assert dt.timedelta(minutes=5) == eta.ETA_CHANGE_NOTIFY


@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_refreshes_the_moved_routes(
    known_route: dict[str, Any], celery_worker: CeleryWorker
) -> None:
    organization, route, vehicle = (
        known_route["organization"], known_route["route"], known_route["vehicle"],
    )  # fmt: skip
    with scopes_disabled():
        Stop.objects.filter(route=route).update(eta=None, eta_updated_at=None)

    def refreshed() -> list[dt.datetime | None] | None:
        with scopes_disabled():
            etas = list(Stop.objects.filter(route=route).values_list("eta", flat=True))
        return etas if all(etas) else None

    # A plan change (here the dispatch) has the worker refresh the route on commit.
    with tenant_context(organization.pk):
        route_dispatch(organization_id=organization.pk, route_id=route.pk)
    celery_worker.wait_for(refreshed, "the worker to refresh the ETAs after the dispatch")
    with scopes_disabled():
        Stop.objects.filter(route=route).update(eta=None, eta_updated_at=None)
        fix = timezone.now()
        VehicleState.objects.create(
            organization=organization, vehicle=vehicle, fix_time=fix, server_time=fix,
            latitude=52.0, longitude=4.0,
        )  # fmt: skip
    # The beat fans out one task per organization whose vehicles moved.
    route_etas_refresh_moved.delay()
    etas = celery_worker.wait_for(refreshed, "the worker to refresh the moved route's ETAs")
    seen = timezone.now()
    # The drive starts when the worker computes it (the van is where it last reported), which is
    # somewhere between the fix and the moment the ETAs were seen; a slow worker start is fine.
    first = min(eta for eta in etas if eta is not None)
    departure = first - dt.timedelta(seconds=SECONDS_AT_30)
    assert fix - dt.timedelta(seconds=1) <= departure <= seen + dt.timedelta(seconds=1)
