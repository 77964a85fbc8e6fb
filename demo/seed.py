"""`demo_seed`: the whole demo in one idempotent call (manage.py seed_demo, `make run`, the load
benchmark): the tenants (demo/tenants.py), then their orders and today's routes (demo/orders.py) and
the default alert rules (alerts/defaults.py)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from alerts.defaults import default_rules_install
from alerts.models import AlertRule, Channel
from fleet.models import Hub, Zone
from tenancy.context import tenant_context
from tenancy.models import Organization

from .orders import demo_orders_seed, demo_routes_seed
from .tenants import (
    demo_email,
    demo_logins,
    demo_organizations,
    demo_service_area,
    demo_tenants_seed,
    legacy_service_area,
)


@transaction.atomic
def demo_seed() -> list[Organization]:
    """Create the demo tenants unless they exist; idempotent, so every run command may call it.
    Returns the organizations created by this call."""
    created = demo_tenants_seed()
    _demo_user_emails()
    created_ids = {organization.pk for organization in created}
    for organization in demo_organizations():
        demo_orders_seed(organization)  # idempotent: adds nothing the second time
        # Today's routes now, so `make run` shows them at once rather than after the first beat
        # tick of the demo's progress task (which seeds them each new day); idempotent too.
        demo_routes_seed(organization)
        # The default alert rules, also for a .data seeded before alerts existed (a new
        # organization already got them on creation); idempotent: adds only what is missing.
        with tenant_context(organization.pk):
            _demo_service_areas_update()
            added = default_rules_install(organization.pk)
            if added or organization.pk in created_ids:
                _demo_rule_emails(organization.pk)
    return created


# The default rules notify in the app only; in the demo these also email (the mail sink and
# /alerts/emails/ show them), so the person trying it sees the email channel work. Set once,
# when the rules are installed: an admin's later edits stay.
DEMO_EMAIL_RULES = ("Vehicle offline", "Unplanned stop")


def _demo_user_emails() -> None:
    """Addresses for demo logins seeded before they had one (an older .data)."""
    User = get_user_model()
    for username, _, _ in demo_logins():
        User.objects.filter(username=username, email="").update(email=demo_email(username))


def _demo_rule_emails(organization_id: int) -> None:
    for rule in AlertRule.objects.filter(
        organization_id=organization_id, name__in=DEMO_EMAIL_RULES
    ):
        if Channel.EMAIL not in rule.channels:
            rule.channels = [*rule.channels, Channel.EMAIL]
            rule.save(update_fields=["channels"])


def _demo_service_areas_update() -> None:
    """Service areas still shaped as the first seeds made them (a 3 km square the roads
    crossed) take the road network's extent; a shape an admin drew stays."""
    hubs = list(Hub.objects.order_by("pk"))
    for hub in hubs:
        Zone.objects.filter(
            hub=hub, kind=Zone.Kind.SERVICE_AREA, geometry=legacy_service_area(hub)
        ).update(geometry=demo_service_area(hub, hubs))
