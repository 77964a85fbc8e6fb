"""Django admin for Doorstep: an organization's admins manage their own tenant; the superuser all."""

from __future__ import annotations

from functools import update_wrapper
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def is_org_admin(request: HttpRequest) -> bool:
    membership = getattr(request, "membership", None)
    return (
        membership is not None and membership.role == "admin"
    )  # Role.ADMIN; models aren't importable here


class DoorstepAdminSite(admin.AdminSite):
    site_header = "Doorstep administration"
    site_title = "Doorstep admin"
    index_title = "Configuration"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_superuser or is_org_admin(request)))

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            # A signed-in dispatcher asking for admin gets a plain 403, not a second login form.
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("Only this organization's admins can open the admin.")
            return inner(request, *args, **kwargs)

        return update_wrapper(wrapper, view)


class DoorstepAdminConfig(AdminConfig):
    default_site = "config.admin.DoorstepAdminSite"
