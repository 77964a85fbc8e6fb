"""The tenant context: who is acting for which organization, resolved once per request,
websocket connection, Celery task or command, and enforced at two layers.

- The ORM guard: entering a context enters django-scopes' scope for the organization. A tenant
  model queried outside any scope raises ScopeError; `no_tenant()` is a scope that matches
  nothing (an empty list), never `scope(organization=None)`, which django-scopes reads as
  "no filter at all".
- The floor: the database connection carries the same organization in the session setting
  `doorstep.organization_id`, which every row-level security policy compares with
  `organization_id` (see tenancy/rls.py and the connection wrapper in tenancy/db/). No context
  means the setting is empty and every tenant table shows 0 rows.

`operator_context()` is the one way past both layers: the installation's superuser in Django
admin, migrations' data fixes and the maintenance jobs that work on every tenant's rows. It
switches the connection to the `doorstep_operator` database role (BYPASSRLS), so nothing else
in the code can read across tenants by forgetting a filter.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from django_scopes import scope, scopes_disabled

if TYPE_CHECKING:
    from .models import Membership, Organization

Access = Literal["tenant", "none", "operator"]
T = TypeVar("T")


class TenantContextError(RuntimeError):
    """Code that needs an organization ran without one (or with another one)."""


@dataclass(frozen=True, slots=True)
class TenantContext:
    access: Access
    organization_id: int | None = None
    organization: Organization | None = None
    membership: Membership | None = None
    user_id: int | None = None
    hub_ids: tuple[int, ...] = ()

    @property
    def role(self) -> str | None:
        return self.membership.role if self.membership is not None else None

    def database_settings(self) -> tuple[str, str, str]:
        """(role, organization id, user id) as the connection must carry them."""
        role = "doorstep_operator" if self.access == "operator" else "none"
        org = str(self.organization_id) if self.access == "tenant" else ""
        user = str(self.user_id) if self.user_id is not None else ""
        return role, org, user


NO_TENANT = TenantContext(access="none")
_current: contextvars.ContextVar[TenantContext | None] = contextvars.ContextVar(
    "doorstep_tenant_context", default=None
)


def current_context() -> TenantContext | None:
    """The context entered last in this thread or task, None outside every context."""
    return _current.get()


def current_organization_id() -> int:
    """The organization of the current context; raises outside a tenant context."""
    context = _current.get()
    if context is None or context.access != "tenant" or context.organization_id is None:
        raise TenantContextError("This code needs a tenant context (tenant_context(...)).")
    return context.organization_id


def require_organization(organization_id: int) -> None:
    """Services call this first: the caller must have entered this organization's context."""
    if current_organization_id() != organization_id:
        raise TenantContextError(
            f"Organization {organization_id} asked for inside another organization's context."
        )


@contextmanager
def _entered(context: TenantContext, orm_scope: object) -> Iterator[TenantContext]:
    token = _current.set(context)
    try:
        with orm_scope:  # type: ignore[attr-defined]
            yield context
    finally:
        _current.reset(token)


@contextmanager
def tenant_context(
    organization: Organization | int,
    *,
    membership: Membership | None = None,
    user_id: int | None = None,
    hub_ids: tuple[int, ...] | list[int] = (),
) -> Iterator[TenantContext]:
    """Act for one organization: the ORM scope and the database setting both name it."""
    if isinstance(organization, int):
        organization_id, organization_obj = organization, None
    else:
        organization_id, organization_obj = int(organization.pk), organization
    if not organization_id:
        raise TenantContextError("tenant_context needs an organization id.")
    context = TenantContext(
        access="tenant",
        organization_id=organization_id,
        organization=organization_obj,
        membership=membership,
        user_id=user_id if user_id is not None else getattr(membership, "user_id", None),
        hub_ids=tuple(hub_ids),
    )
    with _entered(context, scope(organization=organization_id)) as entered:
        yield entered


def in_tenant(organization_id: int, function: Callable[..., T], /, **kwargs: Any) -> T:
    """Call `function(**kwargs)` inside the organization's context: for code that starts on its
    own later or elsewhere (a worker thread of `database_sync_to_async`, an on-commit callback),
    where the caller's context may no longer be the current one."""
    with tenant_context(organization_id):
        return function(**kwargs)


@contextmanager
def no_tenant(*, user_id: int | None = None) -> Iterator[TenantContext]:
    """No organization: tenant queries match nothing, at both layers. `user_id` lets the user
    read their own memberships (the one policy that is keyed on the user)."""
    context = TenantContext(access="none", user_id=user_id)
    # An empty list makes django-scopes filter `organization__in=[]`: a scope matching nothing.
    with _entered(context, scope(organization=[])) as entered:
        yield entered


@contextmanager
def operator_context() -> Iterator[TenantContext]:
    """Every tenant's rows: the installation's operator only (superuser admin, maintenance)."""
    context = TenantContext(access="operator")
    with _entered(context, scopes_disabled()) as entered:
        yield entered
