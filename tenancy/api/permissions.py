from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ..permissions import CONSOLE_ROLES
from .models import ApiToken


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
