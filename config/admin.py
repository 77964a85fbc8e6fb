"""Django admin for Doorstep: an organization's admins manage their own tenant; the superuser all."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


def is_org_admin(request: HttpRequest) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.role == "admin"  # Role.ADMIN; models aren't importable here


class DoorstepAdminSite(admin.AdminSite):
    site_header = "Doorstep administration"
    site_title = "Doorstep admin"
    index_title = "Configuration"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_superuser or is_org_admin(request)))


class DoorstepAdminConfig(AdminConfig):
    default_site = "config.admin.DoorstepAdminSite"
