from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.http import HttpRequest
from django_scopes.forms import SafeModelMultipleChoiceField

from .admin_base import ForeignIdIs404Mixin, TenantAdmin
from .api.models import Scope, default_scopes
from .models import ApiToken, Membership, Organization

User = get_user_model()


# Roles are memberships, not Django groups; the Group admin would only confuse tenant admins.
admin.site.unregister(Group)


@admin.register(Organization)
class OrganizationAdmin(ForeignIdIs404Mixin, admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "distance_unit"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request: HttpRequest) -> Any:
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(pk=request.organization.pk)  # type: ignore[attr-defined]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if request.user.is_superuser else ["slug"]


class MembershipCreateForm(forms.ModelForm):
    """An organization admin adds a person by creating their login here; other tenants' users
    are never listed, so nobody can be pulled in from outside."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(widget=forms.PasswordInput, help_text="Give it to the person once.")

    class Meta:
        model = Membership
        fields = ["role", "hubs"]
        # Choices are filled per request (scoped to the admin's organization) by TenantAdmin.
        field_classes = {"hubs": SafeModelMultipleChoiceField}

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if User.objects.filter(username=username).exists():
            raise forms.ValidationError("That username is taken.")
        return username

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password)
        return password

    def save(self, commit: bool = True) -> Any:
        user = User.objects.create_user(
            username=self.cleaned_data["username"],
            email=self.cleaned_data.get("email", ""),
            password=self.cleaned_data["password"],
        )
        self.instance.user = user
        return super().save(commit)


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ["user", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None and not request.user.is_superuser:
            kwargs["form"] = MembershipCreateForm
            kwargs["fields"] = ["username", "email", "password", "role", "hubs"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None and not request.user.is_superuser:
            return ["username", "email", "password", "role", "hubs"]
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["user"] if obj is not None and not request.user.is_superuser else []


class ApiTokenForm(forms.ModelForm):  # type: ignore[type-arg]
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=default_scopes,
        help_text="Nothing ticked: read only. Admin implies every scope.",
    )

    class Meta:
        model = ApiToken
        fields = ["name", "scopes", "active"]

    def clean_scopes(self) -> list[str]:
        return list(self.cleaned_data.get("scopes") or [Scope.READ])


@admin.register(ApiToken)
class ApiTokenAdmin(TenantAdmin):
    form = ApiTokenForm
    list_display = ["name", "scopes", "active", "created_at", "last_used_at"]
    list_filter = ["active"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "last_used_at"]
    actions = ["regenerate_token"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not obj.token_hash:
            token = obj.set_token()
            messages.warning(
                request, f"API token for {obj.name}: {token} — copy it now, it is shown once."
            )
        super().save_model(request, obj, form, change)

    @admin.action(description="Issue a new token (shown once)")
    def regenerate_token(self, request: HttpRequest, queryset: Any) -> None:
        for api_token in queryset:
            token = api_token.set_token()
            api_token.save(update_fields=["token_hash"])
            messages.warning(request, f"New API token for {api_token.name}: {token}")
