"""Webhook reads for the console: endpoints with their recent counts, the delivery log."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from tenancy.context import require_organization

from ..models import WebhookDelivery, WebhookEndpoint

Status = WebhookDelivery.Status


def webhook_endpoint_list(*, organization_id: int) -> QuerySet[WebhookEndpoint]:
    """The organization's endpoints with their delivery counts of the last day."""
    require_organization(organization_id)
    since = timezone.now() - dt.timedelta(days=1)
    recent = Q(deliveries__created_at__gte=since)
    endpoints = WebhookEndpoint.objects.filter(organization_id=organization_id).annotate(
        recent_total=Count("deliveries", filter=recent),
        recent_failed=Count("deliveries", filter=recent & Q(deliveries__status=Status.FAILED)),
        last_delivery_at=Max("deliveries__created_at"),
    )
    return endpoints


def webhook_delivery_list(*, organization_id: int) -> QuerySet[WebhookDelivery]:
    """The organization's delivery log, newest first."""
    require_organization(organization_id)
    return WebhookDelivery.objects.filter(organization_id=organization_id).select_related(
        "endpoint", "replay_of"
    )


def webhook_delivery_get(*, organization_id: int, delivery_id: int) -> WebhookDelivery:
    """One delivery; raises WebhookDelivery.DoesNotExist for a foreign id."""
    return webhook_delivery_list(organization_id=organization_id).get(pk=delivery_id)
