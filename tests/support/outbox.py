"""Relay an organization's outbox in the test process, as the worker's task would: for tests
that check what subscribers did without running a worker."""

from __future__ import annotations

from tenancy.context import tenant_context
from tenancy.outbox.services import outbox_relay_run


def outbox_relay_now(organization_id: int) -> int:
    with tenant_context(organization_id):
        return outbox_relay_run(organization_id=organization_id)
