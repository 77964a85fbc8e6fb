"""Recompute daily rollups from the raw fixes: `manage.py rollups_recompute --org acme --day
2026-03-29 [--day ...]`. Safe to run again: each day's rows are overwritten (idempotent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenancy.context import tenant_context
from tenancy.models import Organization

from ...rollups import rollups_recompute_day


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--day wants yyyy-mm-dd, not {value!r}") from exc


class Command(BaseCommand):
    help = "Recompute one organization's daily vehicle rollups for the given local days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization id or slug")
        parser.add_argument("--day", required=True, action="append", help="yyyy-mm-dd (repeat)")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = options["org"]
        lookup = {"pk": int(wanted)} if wanted.isdigit() else {"slug": wanted}
        organization = Organization.objects.filter(**lookup).first()
        if organization is None:
            raise CommandError(f"No organization {wanted!r}.")
        days = [_day(value) for value in options["day"]]
        with tenant_context(organization):
            for day in days:
                rows = rollups_recompute_day(organization_id=organization.pk, day=day)
                self.stdout.write(f"{organization.slug} {day}: {rows} vehicle rollups")
