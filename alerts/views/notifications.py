"""A person's in-app notifications, and the admins' outbox of every alert email."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tenancy.models import Role
from tenancy.permissions import CONSOLE_ROLES, role_required

from .. import selectors
from ..models import Channel, Notification
from .inbox import member_scope


@role_required(*CONSOLE_ROLES)
@require_http_methods(["GET", "POST"])
def notification_list(request: HttpRequest) -> HttpResponse:
    """GET: the list (newest first); POST: mark all read."""
    organization_id, user_id, _ = member_scope(request)
    if request.method == "POST":
        Notification.objects.filter(
            organization_id=organization_id,
            recipient_id=user_id,
            channel=Channel.IN_APP,
            read_at__isnull=True,
        ).update(read_at=timezone.now())
        return redirect("alerts:notification_list")
    items = selectors.notification_list_for_user(organization_id=organization_id, user_id=user_id)
    unread = selectors.notification_unread_count(organization_id=organization_id, user_id=user_id)
    return render(
        request,
        "alerts/notification_list.html",
        {"section": "alerts", "notifications": items, "unread": unread},
    )


@role_required(Role.ADMIN)
def email_outbox(request: HttpRequest) -> HttpResponse:
    """Every email the organization's alerts produced, with its text: in the demo nobody has
    a real mailbox, and in production it answers "did the manager get told?"."""
    organization_id, _, _ = member_scope(request)
    emails = selectors.email_outbox_list(organization_id=organization_id)
    return render(request, "alerts/email_outbox.html", {"section": "alerts", "emails": emails})
