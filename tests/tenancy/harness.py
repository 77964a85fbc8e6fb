"""The cross-tenant harness: every URL the project serves, asked for by organization A's users
with organization B's ids. Later issues register their URLs here; an unregistered URL pattern
fails `test_every_url_pattern_is_covered`, so nothing new escapes the harness."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from deliveries.models import ProofOfDelivery, Route, Stop, WebhookDelivery, WebhookEndpoint
from reporting.models import ReportRun, ReportSchedule
from tenancy.models import ApiToken

HISTORY_DAY = "2026-03-29"  # any day: a foreign vehicle is refused whatever the day


def _dispute_packet_id(tenant: Any) -> int:
    from tests.reporting.packets import dispute_packet_of

    return dispute_packet_of(tenant).pk


# name -> how to build its kwargs from the *foreign* tenant. Only URLs that take ids go here.
ForeignKwargs = Callable[[Any], dict[str, Any]]
FOREIGN_ID_URLS: dict[str, ForeignKwargs] = {
    "fleet:vehicle_detail": lambda b: {"vehicle_id": b.tenant.vehicle.pk},
    "fleet:saved_view_detail": lambda b: {"view_id": b.tenant.saved_view.pk},
    "deliveries-api:order_detail": lambda b: {"order_id": b.tenant.order.pk},
    "fleet-api:hub_detail": lambda b: {"hub_id": b.tenant.hub.pk},
    "fleet-api:zone_detail": lambda b: {"zone_id": b.tenant.zone.pk},
    "fleet-api:vehicle_detail": lambda b: {"vehicle_id": b.tenant.vehicle.pk},
    "fleet-api:vehicle_positions": lambda b: {"vehicle_id": b.tenant.vehicle.pk},
    "fleet-api:driver_detail": lambda b: {"driver_id": b.tenant.driver.pk},
    "fleet-api:device_detail": lambda b: {"device_id": b.tenant.device.pk},
    "deliveries-api:webhook_endpoint_detail": lambda b: {
        "endpoint_id": b.tenant.delivery_objects[WebhookEndpoint].pk
    },
    "deliveries-api:webhook_delivery_detail": lambda b: {
        "delivery_id": b.tenant.delivery_objects[WebhookDelivery].pk
    },
    "deliveries-api:order_proofs": lambda b: {"order_id": b.tenant.order.pk},
    "deliveries-api:proof_detail": lambda b: {
        "proof_id": b.tenant.delivery_objects[ProofOfDelivery].pk
    },
    "deliveries-api:proof_file": lambda b: {
        "proof_id": b.tenant.delivery_objects[ProofOfDelivery].pk,
        "kind": "signature",
    },
    "tenancy-api:token_detail": lambda b: {"token_id": b.tenant.delivery_objects[ApiToken].pk},
    "deliveries-api:order_events": lambda b: {"order_id": b.tenant.order.pk},
    "deliveries-api:route_detail": lambda b: {"route_id": b.tenant.delivery_objects[Route].pk},
    "deliveries-api:route_stop_detail": lambda b: {
        "route_id": b.tenant.delivery_objects[Route].pk,
        "stop_id": b.tenant.delivery_objects[Stop].pk,
    },
    # PATCH and the other writes: tests/deliveries/api/test_order_writes.py (foreign ids, 404).
    "deliveries-api:order_by_reference": lambda b: {"reference": b.tenant.order.reference},
    "deliveries-api:order_by_tracking_code": lambda b: {
        "tracking_code": b.tenant.order.tracking_code
    },
    "alerts-api:alert_detail": lambda b: {"alert_id": b.tenant.alert_ids()[0]},
    "deliveries:order_detail": lambda b: {"order_id": b.tenant.order.pk},
    "deliveries:webhook_delivery_detail": lambda b: {
        "delivery_id": b.tenant.delivery_objects[WebhookDelivery].pk
    },
    "deliveries:route_detail": lambda b: {"route_id": b.tenant.delivery_objects[Route].pk},
    "deliveries:vehicle_route_today": lambda b: {"vehicle_id": b.tenant.vehicle.pk},
    "driver:stop_detail": lambda b: {"stop_id": b.tenant.delivery_objects[Stop].pk},
    "driver:pod_file": lambda b: {
        "proof_id": b.tenant.delivery_objects[ProofOfDelivery].pk,
        "kind": "signature",
    },
    # The tracking code is the credential here, not the session: B's proof through a code that
    # is not its order's must be refused (tests/deliveries/test_pod_access.py covers the rest).
    "driver:tracking_pod_file": lambda b: {
        "tracking_code": "not-this-orders-code",
        "proof_id": b.tenant.delivery_objects[ProofOfDelivery].pk,
        "kind": "signature",
    },
    # The customer's tracking page: an unknown code is refused like a foreign id; real codes are
    # walked by PUBLIC_TOKEN_URLS below.
    "deliveries:tracking_page": lambda b: {"code": "not-this-orders-code"},
    "deliveries:tracking_status": lambda b: {"code": "not-this-orders-code"},
    # Alerts: B's alert and rule (tests/alerts/test_views.py builds them in Tenant.extra).
    "alerts:alert_detail": lambda b: {"alert_id": b.tenant.alert_ids()[0]},
    "alerts:rule_edit": lambda b: {"rule_id": b.tenant.alert_ids()[1]},
    "history:route_plan_actual": lambda b: {"route_id": b.tenant.delivery_objects[Route].pk},
    "history:vehicle_today": lambda b: {"vehicle_id": b.tenant.vehicle.pk},
    "history:vehicle_day": lambda b: {"vehicle_id": b.tenant.vehicle.pk, "day": HISTORY_DAY},
    "history:vehicle_day_data": lambda b: {"vehicle_id": b.tenant.vehicle.pk, "day": HISTORY_DAY},
    "history:dispute_packet": lambda b: {"order_id": b.tenant.order.pk},
    # B's issued packet (built through the service on first use): its file is refused too.
    "history:dispute_packet_file": lambda b: {"packet_id": _dispute_packet_id(b.tenant)},
    # Reports: B's run (status and file) and schedule (tests/reporting/builders.py).
    "reports:run_status": lambda b: {"run_id": b.tenant.report_objects[ReportRun].pk},
    "reports:run_download": lambda b: {"run_id": b.tenant.report_objects[ReportRun].pk},
    "reports:schedule_edit": lambda b: {"schedule_id": b.tenant.report_objects[ReportSchedule].pk},
    "history:vehicle_day_export": lambda b: {
        "vehicle_id": b.tenant.vehicle.pk,
        "day": HISTORY_DAY,
        "file_format": "csv",
    },
}

# Pages that take foreign ids in their query string (filters, drill-down links): name ->
# the query naming B's objects. tests/tenancy/test_cross_tenant.py asks for each as every role
# of A: refused (400/403/404) or answered without any of B's data.
FOREIGN_QUERY_URLS: dict[str, ForeignKwargs] = {
    "console:dashboards": lambda b: {
        "hub": b.tenant.hub.pk,
        "zone": b.tenant.zone.pk,
        "vehicle": b.tenant.vehicle.pk,
        "driver": b.tenant.driver.pk,
    },
    "console:orders": lambda b: {
        "vehicle": b.tenant.vehicle.pk,
        "driver": b.tenant.driver.pk,
        "hub": b.tenant.hub.pk,
    },
}

# Public pages whose secret code, not a session, is the key: name -> kwargs that open *this*
# tenant's object. tests/tenancy/test_public_links.py asks for B's links as A's users and as a
# stranger: each shows B's object, none of A's data, and the same for everybody.
PUBLIC_TOKEN_URLS: dict[str, ForeignKwargs] = {
    "deliveries:tracking_page": lambda t: {"code": t.tenant.order.tracking_code},
    "deliveries:tracking_status": lambda t: {"code": t.tenant.order.tracking_code},
}

# URLs without ids that are served to everybody (their pages must still show no foreign data).
PLAIN_URLS: set[str] = {
    "login",
    "api-schema",
    "api-docs",
    "api-events",
    "console:home",
    "console:map",
    "console:orders",
    "console:alerts",
    "console:dashboards",
    "console:driver_home",
    "demo:roads",
    "fleet:saved_views",
    "fleet:data_health",
    "deliveries-api:order_list",
    "deliveries-api:route_list",
    "fleet-api:hub_list",
    "fleet-api:zone_list",
    "fleet-api:vehicle_list",
    "fleet-api:driver_list",
    "fleet-api:position_latest",
    "fleet-api:device_list",
    "tenancy-api:token_list",
    "deliveries-api:webhook_endpoint_list",
    "deliveries-api:webhook_delivery_list",
    "deliveries-api:failure_reason_list",
    "tenancy-api:token_scopes",
    "alerts-api:alert_list",
    "deliveries:webhook_list",
    "deliveries:order_new",
    "deliveries:order_import",
    "deliveries:order_import_template",
    "deliveries:route_list",
    "alerts:alert_markers",
    "alerts:notification_list",
    "alerts:email_outbox",
    "alerts:preferences",
    "alerts:rule_list",
    "alerts:rule_new",
    "history:index",
    # GET: the upload form; the POST with a foreign packet is
    # tests/reporting/test_dispute_packet.py::test_another_organizations_packet_is_unknown_to_us
    "history:dispute_packet_verify",
    "reports:index",
    "reports:archive",
    "reports:schedules",
    "reports-api:report_kinds",
    # KPIs: foreign ids in the query string are tests/reporting/test_kpi_api.py's
    "kpis-api:summary",
    "kpis-api:daily",
}

# URLs that take a parameter that is not an object id (served to everybody like PLAIN_URLS;
# foreign ids in their query strings: tests/reporting/test_report_views.py).
PARAMETER_URLS: dict[str, dict[str, Any]] = {
    "reports-api:report": {"kind": "trips"},
    "kpis-api:breakdown": {"by": "vehicle"},
}

# POST-only actions that take a foreign id in the body; each has a dedicated test.
POST_ONLY_URLS: set[str] = {
    "logout",
    "console:organization_switch",
    "deliveries-api:order_transition",
    # tests/deliveries/api/test_order_writes.py::test_cancel_of_a_foreign_order_is_404
    "deliveries-api:order_cancel",
    # tests/deliveries/api/test_order_writes.py::test_batch_judges_every_item_on_its_own (B's hub)
    "deliveries-api:order_batch",
    # tests/tenancy/test_cross_tenant.py::test_foreign_api_writes_are_404_and_change_nothing
    "fleet-api:device_token_rotate",
    "tenancy-api:token_revoke",
    "deliveries-api:webhook_delivery_replay",
    # tests/tenancy/test_cross_tenant.py::test_foreign_alert_actions_are_refused
    "alerts-api:alert_acknowledge",
    "alerts-api:alert_resolve",
    "alerts-api:alert_assign",
    "alerts-api:alert_snooze",
    "alerts-api:alert_note",
    # tests/deliveries/test_webhooks.py::test_replaying_a_foreign_delivery_is_404
    "deliveries:webhook_delivery_replay",
    # tests/deliveries/test_import.py::test_a_stored_preview_is_bound_to_its_organization_and_user
    "deliveries:order_import_commit",
    # tests/deliveries/test_order_form.py::test_resending_a_foreign_orders_link_is_404
    "deliveries:order_tracking_link_resend",
    # tests/deliveries/test_routing.py::test_route_actions_with_foreign_ids_are_404_and_change_nothing
    "deliveries:route_create",
    "deliveries:route_stop_add",
    "deliveries:route_stop_remove",
    "deliveries:route_stop_move",
    "deliveries:route_dispatch",
    # tests/deliveries/test_driver_actions.py::test_another_drivers_stop_is_404_and_changes_nothing
    "driver:actions",
    # tests/tenancy/test_cross_tenant.py::test_foreign_route_api_writes_are_refused
    "deliveries-api:route_stop_add",
    "deliveries-api:route_stop_move",
    "deliveries-api:route_stop_remove",
    "deliveries-api:route_stops_reorder",
    "deliveries-api:route_dispatch",
    # tests/alerts/test_views.py::test_actions_on_a_foreign_alert_are_404_and_change_nothing
    "alerts:alert_action",
    # tests/reporting/test_report_views.py
    "reports:run_create",
    "reports:schedule_delete",
}

# Admin URL names that take no object id and are walked generically.
ADMIN_PLAIN_SUFFIXES = ("changelist", "add")
ADMIN_OBJECT_SUFFIXES = ("change", "delete", "history")
ADMIN_SITE_URLS = {
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:jsi18n",
    "admin:autocomplete",
    "admin:view_on_site",
    "admin:app_list",
}


@dataclass(frozen=True)
class Probe:
    url: str
    foreign: bool  # True: the URL names a foreign object and must answer 403 or 404
    label: str


def iter_url_names(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from iter_url_names(entry, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{prefix}{entry.name}"


def admin_url_names() -> set[str]:
    names = set(ADMIN_SITE_URLS) | {"admin:auth_user_password_change"}
    for model in admin.site._registry:
        opts = model._meta
        for suffix in ADMIN_PLAIN_SUFFIXES + ADMIN_OBJECT_SUFFIXES:
            names.add(f"admin:{opts.app_label}_{opts.model_name}_{suffix}")
    return names


def admin_probes(foreign: Any) -> Iterator[Probe]:
    app_labels = set()
    for model in admin.site._registry:
        opts = model._meta
        app_labels.add(opts.app_label)
        for suffix in ADMIN_PLAIN_SUFFIXES:
            name = f"admin:{opts.app_label}_{opts.model_name}_{suffix}"
            yield Probe(reverse(name), False, name)
        obj = foreign.admin_object(model)
        for suffix in ADMIN_OBJECT_SUFFIXES:
            name = f"admin:{opts.app_label}_{opts.model_name}_{suffix}"
            yield Probe(reverse(name, args=[obj.pk]), True, name)
    user = foreign.admin_object(get_user_model())
    yield Probe(reverse("admin:auth_user_password_change", args=[user.pk]), True, "password")
    yield Probe(reverse("admin:index"), False, "admin:index")
    for label in sorted(app_labels):
        yield Probe(reverse("admin:app_list", args=[label]), False, "admin:app_list")


def probes(foreign: Any) -> list[Probe]:
    found = [Probe(reverse(name), False, name) for name in sorted(PLAIN_URLS)]
    for name, parameters in sorted(PARAMETER_URLS.items()):
        found.append(Probe(reverse(name, kwargs=parameters), False, name))
    for name, kwargs in sorted(FOREIGN_ID_URLS.items()):
        found.append(Probe(reverse(name, kwargs=kwargs(foreign)), True, name))
    found.extend(admin_probes(foreign))
    return found
