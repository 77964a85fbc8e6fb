"""The ModelAdmin every tenant model uses: scoped rows, scoped choices, organization set on save."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.forms import Field
from django.http import Http404, HttpRequest, HttpResponse

from .models import Role, TenantModel
from .permissions import has_role


class ForeignIdIs404Mixin:
    def _get_obj_does_not_exist_redirect(
        self, request: HttpRequest, opts: Any, object_id: str
    ) -> HttpResponse:
        # Another tenant's id must look exactly like a missing one: 404, not a redirect.
        raise Http404("No such object in this organization.")


class TenantAdmin(ForeignIdIs404Mixin, admin.ModelAdmin):
    def _allowed(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or has_role(request, Role.ADMIN))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if not request.user.is_superuser:
            exclude.append("organization")
        return exclude

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        return ["organization", *filters] if request.user.is_superuser else filters

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            obj.organization = request.organization  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def _limit_to_organization(
        self, request: HttpRequest, db_field: Any, field: Field | None
    ) -> Any:
        # The scope already filters these; the explicit filter keeps it true even if a form is
        # built outside a scope, so a foreign hub can never be offered as a choice.
        related = db_field.related_model
        if field is not None and not request.user.is_superuser and issubclass(related, TenantModel):
            field.queryset = related.objects.filter(organization=request.organization)  # type: ignore[attr-defined]
        return field

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        return self._limit_to_organization(request, db_field, field)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        return self._limit_to_organization(request, db_field, field)


class ScopedChoicesFormMixin:
    """For a ModelAdmin whose form takes `organization_id=` and offers that organization's rows
    as choices (ids kept in array fields, which the ForeignKey scoping above cannot reach): the
    object's organization, or the admin's own for a new object."""

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        base = super().get_form(request, obj, change=change, **kwargs)  # type: ignore[misc]
        organization = getattr(request, "organization", None)
        organization_id = (
            obj.organization_id if obj is not None else getattr(organization, "pk", None)
        )

        class ScopedForm(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **inner: Any) -> None:
                super().__init__(*args, organization_id=organization_id, **inner)

        return ScopedForm
