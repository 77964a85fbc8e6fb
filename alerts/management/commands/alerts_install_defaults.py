"""Give every organization (or one) the default alert rules it lacks. Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from alerts.defaults import default_rules_install
from tenancy.context import tenant_context
from tenancy.models import Organization


class Command(BaseCommand):
    help = "Install the default alert rules for organizations that lack them."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--organization", type=int, help="Only this organization id.")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = Organization.objects.order_by("pk").values_list("pk", flat=True)
        if options.get("organization"):
            ids = ids.filter(pk=options["organization"])
        total = 0
        for organization_id in ids:
            with tenant_context(organization_id):
                total += default_rules_install(organization_id)
        self.stdout.write(f"Added {total} rules.")
