"""Celery tasks of deliveries. Tasks are thin: they take ids and the organization, call a service."""

from __future__ import annotations

from celery import Task, shared_task

from tenancy.tasks import tenant_task

from .webhooks import webhook_deliveries_resend_due, webhook_delivery_attempt


@tenant_task(name="deliveries.webhook_deliver", bind=True, max_retries=None)
def webhook_deliver(self: Task, delivery_id: int, organization_id: int) -> None:
    """One attempt of a webhook delivery; schedules the next one with backoff when it failed."""
    delay = webhook_delivery_attempt(organization_id=organization_id, delivery_id=delivery_id)
    if delay is not None:
        # The attempt count lives on the row, so Celery's own retry limit is not used.
        raise self.retry(countdown=delay)


@shared_task(name="deliveries.webhook_resend_due")
def webhook_resend_due() -> int:
    return webhook_deliveries_resend_due()
