"""The console shell: the landing page per role and organization switching."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tenancy.middleware import SESSION_KEY
from tenancy.models import Role
from tenancy.selectors import membership_list_for_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = getattr(request, "membership", None)
    if membership is None and request.user.is_superuser:
        return redirect("admin:index")  # runs the installation, belongs to no organization
    if membership is None:
        return render(request, "console/no_organization.html", status=403)
    if membership.role == Role.DRIVER:
        return redirect("console:driver_home")
    if membership.role in (Role.SUPPORT,):
        return redirect("console:orders")
    if membership.role == Role.MANAGER:
        return redirect("console:dashboards")
    return redirect("console:map")


@require_POST
@login_required
def organization_switch(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("organization_id", "")
    allowed = {str(m.organization_id) for m in membership_list_for_user(user=request.user)}
    if wanted in allowed:
        request.session[SESSION_KEY] = int(wanted)
    return redirect("console:home")
