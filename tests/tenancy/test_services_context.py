"""Services and selectors never enter a tenant context: the caller (a request, task, consumer,
command) enters it once at the edge, and a service asked outside it, or inside another
organization's, raises instead of quietly acting for the organization it was handed."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

import deliveries.selectors
import deliveries.services
from deliveries.selectors import orders as selectors
from deliveries.selectors import tracking
from deliveries.selectors import webhooks as webhook_selectors
from deliveries.services import orders as services
from deliveries.services import routes as routing
from fleet import maintenance
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.live import snapshot as fleet_snapshot
from tenancy.context import (
    TenantContextError,
    in_tenant,
    no_tenant,
    operator_context,
    require_organization,
    tenant_context,
)
from tests.conftest import Tenant

pytestmark = pytest.mark.django_db


def _package_modules(package: Any) -> list[Any]:
    # Every module of a services/ or selectors/ package: a new one is checked without listing it.
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]


MODULES = [
    fleet_services,
    fleet_selectors,
    fleet_snapshot,
    *_package_modules(deliveries.services),
    *_package_modules(deliveries.selectors),
    maintenance,
]


def calls(tenant: Tenant) -> dict[str, Callable[[], Any]]:
    """One write and a few reads, each for `tenant`'s organization."""
    organization_id = tenant.organization.pk
    assert tenant.order is not None
    order_id = tenant.order.pk
    return {
        "order_create": lambda: services.order_create(
            organization_id=organization_id,
            hub_id=tenant.hub.pk,
            reference="CTX-1",
            customer_name="Someone",
            address="1 Road",
        ),
        "order_list": lambda: list(selectors.order_list(organization_id=organization_id)),
        "route_create": lambda: routing.route_create(
            organization_id=organization_id,
            hub_id=tenant.hub.pk,
            date=timezone.localdate(),
        ),
        "vehicle_live_list": lambda: fleet_snapshot.vehicle_live_list(
            organization_id=organization_id
        ),
        "webhook_delivery_list": lambda: list(
            webhook_selectors.webhook_delivery_list(organization_id=organization_id)
        ),
        "order_tracking_get": lambda: tracking.order_tracking_get(
            organization_id=organization_id, order_id=order_id
        ),
    }


NAMES = [
    "order_create",
    "order_list",
    "route_create",
    "vehicle_live_list",
    "webhook_delivery_list",
    "order_tracking_get",
]


@pytest.mark.parametrize("name", NAMES)
def test_a_service_called_outside_every_context_raises(tenant_a: Tenant, name: str) -> None:
    with pytest.raises(TenantContextError):
        calls(tenant_a)[name]()


@pytest.mark.parametrize("name", NAMES)
def test_a_service_called_inside_another_organizations_context_raises(
    tenant_a: Tenant, tenant_b: Tenant, name: str
) -> None:
    with tenant_context(tenant_b.organization), pytest.raises(TenantContextError):
        calls(tenant_a)[name]()


@pytest.mark.parametrize("name", NAMES)
def test_no_tenant_and_the_operator_are_not_an_organization(tenant_a: Tenant, name: str) -> None:
    with no_tenant(), pytest.raises(TenantContextError):
        calls(tenant_a)[name]()
    with operator_context(), pytest.raises(TenantContextError):
        calls(tenant_a)[name]()


@pytest.mark.parametrize("name", NAMES)
def test_inside_its_own_context_the_service_answers(tenant_a: Tenant, name: str) -> None:
    with tenant_context(tenant_a.organization):
        calls(tenant_a)[name]()


def test_nothing_is_written_by_a_refused_service(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with tenant_context(tenant_b.organization), pytest.raises(TenantContextError):
        calls(tenant_a)["order_create"]()
    with tenant_context(tenant_a.organization):
        references = set(
            selectors.order_list(organization_id=tenant_a.organization.pk).values_list(
                "reference", flat=True
            )
        )
    assert "CTX-1" not in references


def _functions_taking_an_organization(module: Any) -> list[ast.FunctionDef]:
    tree = ast.parse(Path(inspect.getfile(module)).read_text())
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and "organization_id" in {arg.arg for arg in node.args.kwonlyargs + node.args.args}
    ]


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return names


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_no_service_or_selector_enters_a_context_of_its_own(module: Any) -> None:
    """A function that is handed the organization checks the caller's context; entering one
    itself would paper over a caller that forgot to."""
    offenders = [
        node.name
        for node in _functions_taking_an_organization(module)
        if _called_names(node) & {"tenant_context", "scope", "scopes_disabled", "operator_context"}
    ]
    assert offenders == []


def test_require_organization_names_the_mismatch(tenant_a: Tenant, tenant_b: Tenant) -> None:
    with pytest.raises(TenantContextError, match="needs a tenant context"):
        require_organization(tenant_a.organization.pk)
    with tenant_context(tenant_b.organization), pytest.raises(TenantContextError, match="another"):
        require_organization(tenant_a.organization.pk)
    with tenant_context(tenant_a.organization):
        require_organization(tenant_a.organization.pk)


def _in_a_thread(function: Callable[[], Any]) -> Any:
    """Run `function` in a fresh thread (which inherits no context) and return what it returned
    or raised."""
    from django.db import connection

    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(function())
        except Exception as exc:  # handed back to the test
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return outcome[0]


def test_in_tenant_enters_the_context_inside_the_worker_thread(tenant_a: Tenant) -> None:
    """What the websocket consumer and the LiveHub do with database_sync_to_async."""
    organization_id = tenant_a.organization.pk
    with tenant_context(tenant_a.organization):
        # The caller's context does not follow a new thread: the bare selector is refused.
        refused = _in_a_thread(
            lambda: fleet_selectors.zone_geometries(organization_id=organization_id)
        )
    assert isinstance(refused, TenantContextError)
    answered = _in_a_thread(
        lambda: in_tenant(
            organization_id, fleet_selectors.zone_geometries, organization_id=organization_id
        )
    )
    assert isinstance(answered, dict)
