"""`demo_seed`: the whole demo in one idempotent call (manage.py seed_demo, `make run`, the load
benchmark): the tenants (demo/tenants.py), then their orders and today's routes (demo/orders.py) and
the default alert rules (alerts/defaults.py)."""

from __future__ import annotations

from django.db import transaction

from alerts.defaults import default_rules_install
from tenancy.context import tenant_context
from tenancy.models import Organization

from .orders import demo_orders_seed, demo_routes_seed
from .tenants import demo_organizations, demo_tenants_seed


@transaction.atomic
def demo_seed() -> list[Organization]:
    """Create the demo tenants unless they exist; idempotent, so every run command may call it.
    Returns the organizations created by this call."""
    created = demo_tenants_seed()
    for organization in demo_organizations():
        demo_orders_seed(organization)  # idempotent: adds nothing the second time
        # Today's routes now, so `make run` shows them at once rather than after the first beat
        # tick of the demo's progress task (which seeds them each new day); idempotent too.
        demo_routes_seed(organization)
        # The default alert rules, also for a .data seeded before alerts existed (a new
        # organization already got them on creation); idempotent: adds only what is missing.
        with tenant_context(organization.pk):
            default_rules_install(organization.pk)
    return created
