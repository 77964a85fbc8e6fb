from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ..permissions import CONSOLE_ROLES
from .models import ApiToken, Scope

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class IsOrganizationClient(BasePermission):
    """An API token of the organization, or a console user (not a driver) of it."""

    message = "You need an API token or a console role in an organization."

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiToken):
            return True
        membership = getattr(request._request, "membership", None)
        if membership is None or not (request.user and request.user.is_authenticated):
            return False
        return membership.role in CONSOLE_ROLES


def required_scope(view: Any, method: str) -> str:
    """The token scope an operation needs: reads need `read` (every token has it); a view
    names its writes' scope in `write_scope` (admin when it does not say)."""
    if method.upper() in SAFE_METHODS:
        return str(getattr(view, "read_scope", Scope.READ))
    return str(getattr(view, "write_scope", Scope.ADMIN))


def required_roles(view: Any, method: str) -> tuple[str, ...] | None:
    """The console roles an operation admits (None: every console role). A view names them
    in `read_roles` and `write_roles`, beside its token scopes."""
    name = "read_roles" if method.upper() in SAFE_METHODS else "write_roles"
    roles = getattr(view, name, None)
    return tuple(roles) if roles is not None else None


class HasConsoleRole(BasePermission):
    """A console member may do only what their role allows (tokens are bound by scopes)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiToken):
            return True
        roles = required_roles(view, request.method or "GET")
        membership = getattr(request._request, "membership", None)
        if roles is None or (membership is not None and membership.role in roles):
            return True
        self.message = f"Your role cannot do this; it needs one of: {', '.join(roles)}."
        return False


class HasTokenScope(BasePermission):
    """A token may do only what its scopes allow (console users are bound by their role)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        scope = required_scope(view, request.method or "GET")
        if token.allows(scope):
            return True
        self.message = f"This token lacks the '{scope}' scope this operation needs."
        return False
