"""Create or repair the database roles, grants and row-level security (tenancy/rls.py) without
migrating. Runs as the database owner; `migrate` does the same after every run."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tenancy.rls import roles, setup


class Command(BaseCommand):
    help = "Set up the database roles, grants and row-level security policies (as the owner)."

    def handle(self, *args: Any, **options: Any) -> None:
        tables = setup()
        names = ", ".join(roles().values())
        self.stdout.write(f"roles {names}; row-level security on {len(tables)} tenant tables")
