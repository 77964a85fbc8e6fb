"""Settings: the organization's alert rules (admins) and each person's notification
preferences. Rules are also edited in Django admin (alerts/admin.py, the engine's); this page
is the console's way to the same rows."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tenancy.models import Role
from tenancy.permissions import CONSOLE_ROLES, role_required

from .. import selectors
from ..forms import AlertRuleSettingsForm, NotificationPreferenceForm
from ..models import AlertRule, NotificationPreference
from .inbox import member_scope


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def rule_list(request: HttpRequest) -> HttpResponse:
    organization_id, _, _ = member_scope(request)
    return render(
        request,
        "alerts/rule_list.html",
        {"section": "alerts", "rules": selectors.alert_rule_list(organization_id=organization_id)},
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    organization_id, _, _ = member_scope(request)
    rule = None
    if rule_id is not None:
        rule = AlertRule.objects.filter(organization_id=organization_id, pk=rule_id).first()
        if rule is None:
            raise Http404("No such rule")
    form = AlertRuleSettingsForm(
        request.POST or None, instance=rule, organization_id=organization_id
    )
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        saved.organization_id = organization_id
        saved.save()
        messages.success(request, f"Rule “{saved.name}” saved.")
        return redirect("alerts:rule_list")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "alerts/rule_form.html",
        {"section": "alerts", "form": form, "rule": rule},
        status=status,
    )


@role_required(*CONSOLE_ROLES)
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    organization_id, user_id, _ = member_scope(request)
    pref = NotificationPreference.objects.filter(
        organization_id=organization_id, user_id=user_id
    ).first() or NotificationPreference(organization_id=organization_id, user_id=user_id)
    form = NotificationPreferenceForm(request.POST or None, instance=pref)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your notification settings are saved.")
        return redirect("alerts:preferences")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "alerts/preferences.html",
        {"section": "alerts", "form": form, "has_email": bool(request.user.email)},  # type: ignore[union-attr]
        status=status,
    )
