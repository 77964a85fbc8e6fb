"""Celery tasks act for one organization: `tenant_task` is `shared_task` for a task whose
arguments include `organization_id`; the task body runs inside that organization's tenant
context (ORM scope and database setting), so the services it calls need no scope of their own.
A task that works across organizations (a beat fan-out) lists them and enqueues one tenant
task each."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from celery import shared_task

from .context import tenant_context

F = TypeVar("F", bound=Callable[..., Any])


def tenant_task(**task_options: Any) -> Callable[[F], Any]:
    def decorator(function: F) -> Any:
        signature = inspect.signature(function)
        if "organization_id" not in signature.parameters:
            raise TypeError(f"{function.__name__}: a tenant task takes organization_id")

        @wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            organization_id = signature.bind(*args, **kwargs).arguments["organization_id"]
            with tenant_context(int(organization_id)):
                return function(*args, **kwargs)

        return shared_task(**task_options)(run)

    return decorator


@shared_task(name="tenancy.receipts_prune")
def receipts_prune_all() -> int:
    """Beat's hourly fan-out: one pruning task per organization (tenancy/api/idempotency.py)."""
    from .models import Organization

    ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    for organization_id in ids:
        receipts_prune_organization.delay(organization_id)
    return len(ids)


@tenant_task(name="tenancy.receipts_prune_organization")
def receipts_prune_organization(organization_id: int) -> dict[str, int]:
    from .api.idempotency import receipts_prune

    return receipts_prune(organization_id=organization_id)
