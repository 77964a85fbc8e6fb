"""The demo's Celery beat task. Its name keeps the `deliveries.` prefix it was scheduled under
(config/settings/base.py CELERY_BEAT_SCHEDULE "demo-progress"), so running beats keep working."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import orders


@shared_task(name="deliveries.demo_progress")
def demo_progress() -> int:
    """Beat: move the demo organizations' orders along as the simulated fleet drives (each
    organization inside its own context, see demo/orders.py)."""
    if not (settings.DEBUG or settings.DOORSTEP_DEMO_PROGRESS):
        return 0
    return orders.demo_progress()
