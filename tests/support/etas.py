"""Run captured on-commit callbacks in the test process, with each route ETA refresh run as its
Celery task here (`apply`, through `@tenant_task`) instead of being sent to a broker that no
worker of these tests reads: for tests that check the ETAs a change leaves without a worker."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from deliveries.services.eta import ROUTE_ETAS_REFRESH_TASK, RouteEtasRefreshEnqueue


def on_commit_run(callbacks: Iterable[Callable[[], Any]]) -> int:
    """Run the callbacks as the commit would; returns how many ETA refresh tasks ran."""
    from config.celery import app

    app.loader.import_default_modules()  # the apps' task modules, as a worker loads them
    refreshes = 0
    for callback in list(callbacks):
        if isinstance(callback, RouteEtasRefreshEnqueue):
            if callback.superseded():  # as at a commit: the route's last refresh is sent
                continue
            kwargs = {"organization_id": callback.organization_id, "route_id": callback.route_id}
            app.tasks[ROUTE_ETAS_REFRESH_TASK].apply(kwargs=kwargs).get()
            refreshes += 1
        else:
            callback()
    return refreshes
