"""Django admin for Doorstep: an organization's admins manage their own tenant; the superuser all."""

from __future__ import annotations

from functools import update_wrapper
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, URLResolver, path


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

    def get_urls(self) -> list[URLResolver | URLPattern]:
        # Django's "view on site" shortcut (/admin/r/<content type>/<id>/) reads any tenant's
        # row and says which ones exist; ours answers tenant admins for their own rows only.
        urls = [url for url in super().get_urls() if getattr(url, "name", None) != "view_on_site"]
        shortcut = path(
            "r/<int:content_type_id>/<path:object_id>/",
            self.admin_view(self.view_on_site),
            name="view_on_site",
        )
        return [shortcut, *urls]

    def view_on_site(self, request: HttpRequest, content_type_id: int, object_id: str) -> Any:
        if request.user.is_superuser:  # the operator sees every tenant anyway
            from django.contrib.contenttypes.views import shortcut

            return shortcut(request, content_type_id, object_id)
        obj = tenant_object(request, content_type_id, object_id)
        absolute_url = getattr(obj, "get_absolute_url", None)
        if absolute_url is None:
            # Foreign, missing or without a page: one plain 404, never DEBUG's technical page,
            # whose wording would tell these apart.
            from console.errors import page_not_found

            return page_not_found(request)
        return HttpResponseRedirect(absolute_url())


def tenant_object(request: HttpRequest, content_type_id: int, object_id: str) -> Any:
    """The row of the request's organization, or None (another tenant's, missing, global)."""
    from django.contrib.contenttypes.models import ContentType

    from tenancy.models import TenantModel

    content_type = ContentType.objects.filter(pk=content_type_id).first()
    model = content_type.model_class() if content_type else None
    organization = getattr(request, "organization", None)
    if model is None or organization is None or not issubclass(model, TenantModel):
        return None
    try:
        return model.objects.filter(organization=organization, pk=object_id).first()
    except (ValueError, ValidationError):  # an id of the wrong type
        return None


class DoorstepAdminConfig(AdminConfig):
    default_site = "config.admin.DoorstepAdminSite"
