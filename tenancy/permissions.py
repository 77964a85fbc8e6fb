"""Role checks shared by console views, API views and consumers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from .models import Role

CONSOLE_ROLES = (Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.SUPPORT)
# Who may change a route's plan: the console's route editor and the routes API alike.
PLANNER_ROLES = (Role.ADMIN, Role.MANAGER, Role.DISPATCHER)


def has_role(request: HttpRequest, *roles: str) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.role in roles


def role_required(
    *roles: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Login first; then 403 unless the user's role in the current organization is one of `roles`."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_role(request, *roles):
                raise PermissionDenied("Your role in this organization cannot open this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
