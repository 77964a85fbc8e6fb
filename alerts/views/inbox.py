"""The exception inbox, an alert's detail page, the actions on an alert and the map's markers.
Thin: the filters form, the selectors and the action services do the work."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

from fleet.selectors import hub_list
from tenancy.context import current_context
from tenancy.permissions import CONSOLE_ROLES, role_required

from .. import selectors
from ..filtersets import AlertFilterForm
from ..models import Alert, RuleKind, Severity
from ..services import actions
from ..services.actions import AlertActionError, alert_snapshot

SNOOZE_CHOICES = {"15m": 15, "1h": 60, "4h": 240, "tomorrow": None}


def member_scope(request: HttpRequest) -> tuple[int, int, tuple[int, ...]]:
    """(organization id, user id, hub ids) of the member acting in this request; the hub scope
    comes from the tenant context the middleware entered (no query)."""
    context = current_context()
    membership = request.membership  # type: ignore[attr-defined]
    hub_ids = context.hub_ids if context is not None else ()
    return membership.organization_id, int(request.user.pk or 0), tuple(hub_ids)


def _filter_form(request: HttpRequest, organization_id: int, hub_ids: tuple[int, ...]) -> Any:
    hubs = hub_list(organization_id=organization_id, hub_ids=list(hub_ids) or None)
    assignees = selectors.assignee_choices(organization_id=organization_id)
    form = AlertFilterForm(request.GET, hubs=[(h.pk, h.name) for h in hubs], assignees=assignees)
    return form, hubs, assignees


@role_required(*CONSOLE_ROLES)
@require_GET
def alert_inbox(request: HttpRequest) -> HttpResponse:
    organization_id, user_id, hub_ids = member_scope(request)
    form, hubs, assignees = _filter_form(request, organization_id, hub_ids)
    if not form.is_valid():
        if request.GET.get("format") == "json":
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        return render(request, "alerts/inbox.html", {"section": "alerts", "form": form}, status=400)
    alerts = list(
        selectors.alert_list(
            organization_id=organization_id,
            hub_ids=hub_ids,
            filters=form.filters(),
            user_id=user_id,
        )[: selectors.INBOX_LIMIT]
    )
    snapshots = [alert_snapshot(alert) for alert in alerts]
    if request.GET.get("format") == "json":  # the page's resync after a reconnect
        return JsonResponse({"alerts": snapshots, "server_time": timezone.now().isoformat()})
    organization = request.organization  # type: ignore[attr-defined]
    config = {
        "alerts": snapshots,
        "filters": form.as_json(),
        "limit": selectors.INBOX_LIMIT,
        "timeZone": organization.timezone,
        "userId": user_id,
        "userName": request.user.get_full_name() or request.user.get_username(),  # type: ignore[union-attr]
        "listUrl": reverse("console:alerts"),
        "detailUrl": reverse("alerts:alert_detail", args=[0]),
        "actionUrl": reverse("alerts:alert_action", args=[0]),
        "mapUrl": reverse("console:map"),
        "kindLabels": dict(RuleKind.choices),
        "severityLabels": {str(value): label for value, label in Severity.choices},
        "statusLabels": dict(Alert.Status.choices),
        "hubNames": {str(h.pk): h.name for h in hubs},
        "assignees": [[pk, name] for pk, name in assignees],
        "serverTime": timezone.now().isoformat(),
    }
    return render(
        request,
        "alerts/inbox.html",
        {"section": "alerts", "form": form, "inbox_config": config, "count": len(alerts)},
    )


@role_required(*CONSOLE_ROLES)
@require_GET
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    organization_id, user_id, hub_ids = member_scope(request)
    try:
        alert = selectors.alert_get(
            organization_id=organization_id, alert_id=alert_id, hub_ids=hub_ids
        )
    except Alert.DoesNotExist:
        raise Http404("No such alert") from None
    timeline = selectors.alert_timeline(organization_id=organization_id, alert=alert)
    end = alert.resolved_at or timezone.now()
    return render(
        request,
        "alerts/alert_detail.html",
        {
            "section": "alerts",
            "alert": alert,
            "timeline": timeline,
            "duration": duration_text(end - alert.opened_at),
            "to_acknowledge": duration_text(alert.acknowledged_at - alert.opened_at)
            if alert.acknowledged_at
            else "",
            "details": [
                (key.replace("_", " ").capitalize(), value)
                for key, value in sorted((alert.details or {}).items())
                if not isinstance(value, dict | list)
            ],
            "assignees": selectors.assignee_choices(organization_id=organization_id),
            "snoozed": bool(alert.snoozed_until and alert.snoozed_until > timezone.now()),
            "map_url": _map_url(alert),
            "user_id": user_id,
        },
    )


def duration_text(delta: dt.timedelta) -> str:
    """'45 s', '12 min', '3 h 05 min', '2 d 4 h' (the inbox's ageText, server-side)."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def _map_url(alert: Alert) -> str:
    url = reverse("console:map")
    if alert.vehicle_id:
        return f"{url}?vehicle={alert.vehicle_id}&alert={alert.pk}"
    return f"{url}?alert={alert.pk}"


def snooze_until(choice: str, *, now: dt.datetime, time_zone: str) -> dt.datetime | None:
    """A snooze menu choice (or an ISO time) as an aware time; None when it means nothing."""
    if choice in SNOOZE_CHOICES:
        minutes = SNOOZE_CHOICES[choice]
        if minutes is not None:
            return now + dt.timedelta(minutes=minutes)
        local = now.astimezone(zoneinfo.ZoneInfo(time_zone))
        morning = (local + dt.timedelta(days=1)).replace(hour=7, minute=0, second=0, microsecond=0)
        return morning
    parsed = parse_datetime(choice) if choice else None
    return parsed


@role_required(*CONSOLE_ROLES)
@require_POST
def alert_action(request: HttpRequest, alert_id: int) -> HttpResponse:
    """POST action=acknowledge|assign|snooze|wake|note|resolve. Answers JSON (the inbox's
    fetch) or redirects back (the detail page's forms)."""
    organization_id, user_id, hub_ids = member_scope(request)
    action = request.POST.get("action", "")
    common: dict[str, Any] = {
        "organization_id": organization_id,
        "alert_id": alert_id,
        "actor": request.user,
        "hub_ids": hub_ids,
    }
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        alert = _run_action(request, action, common, user_id)
    except Alert.DoesNotExist:
        raise Http404("No such alert") from None
    except AlertActionError as error:
        # A request that cannot mean anything is a 400; one the alert's state refuses, a 409.
        status = 400 if isinstance(error, BadAction) else 409
        if wants_json:
            return JsonResponse({"error": error.code, "message": str(error)}, status=status)
        messages.error(request, str(error))
        return redirect("alerts:alert_detail", alert_id=alert_id)
    if wants_json:
        return JsonResponse({"alert": alert_snapshot(alert)})
    return redirect("alerts:alert_detail", alert_id=alert_id)


class BadAction(AlertActionError):
    """The request itself is wrong (unknown action, no assignee or snooze time)."""


def _run_action(request: HttpRequest, action: str, common: dict[str, Any], user_id: int) -> Alert:
    note = request.POST.get("note", "")
    if action == "acknowledge":
        return actions.alert_acknowledge(**common, note=note)
    if action == "resolve":
        return actions.alert_resolve(**common, note=note)
    if action == "note":
        return actions.alert_note_add(**common, note=note)
    if action == "assign":
        raw = request.POST.get("assignee", "")
        if raw == "me":
            assignee: int | None = user_id
        elif raw in ("", "none"):
            assignee = None
        elif raw.isdigit():
            assignee = int(raw)
        else:
            raise BadAction("Choose whom to assign the alert to.", code="bad_assignee")
        return actions.alert_assign(**common, assignee_id=assignee)
    if action == "snooze":
        organization = request.organization  # type: ignore[attr-defined]
        until = snooze_until(
            request.POST.get("until", ""), now=timezone.now(), time_zone=organization.timezone
        )
        if until is None:
            raise BadAction("Choose how long to snooze the alert.", code="bad_until")
        return actions.alert_snooze(**common, until=until)
    if action == "wake":
        return actions.alert_snooze(**common, until=None)
    raise BadAction("Unknown action.", code="bad_action")


@role_required(*CONSOLE_ROLES)
@require_GET
def alert_markers(request: HttpRequest) -> HttpResponse:
    """Active alerts with a position, for the live map's alert layer."""
    organization_id, _, hub_ids = member_scope(request)
    markers = selectors.alert_map_markers(organization_id=organization_id, hub_ids=hub_ids)
    for marker in markers:
        marker["url"] = reverse("alerts:alert_detail", args=[marker["id"]])
    return JsonResponse({"alerts": markers})
