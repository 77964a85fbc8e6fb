from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _row_level_security(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After every migrate: policies on every tenant table, roles, grants, resolvers."""
    if not connections[using].settings_dict.get("DOORSTEP_AS_OWNER"):
        return  # only the owner can; `manage.py migrate` connects as the owner
    from .rls import setup

    setup(using)


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Organizations and roles"

    def ready(self) -> None:
        post_migrate.connect(_row_level_security, sender=self, dispatch_uid="doorstep-rls")
        from .db.lookups import lookups_register  # `field__any=[...]`

        lookups_register()
        # Open websockets close when the session or the membership behind them ends.
        from .signals import connect_user_signals

        connect_user_signals()
        # The outbox's relay tasks (Celery autodiscovery finds only tenancy/tasks.py) and its
        # resolver of organizations with pending events.
        # The API token's resolver (by hash).
        # The API's idempotency receipts register their pruner (tenancy.receipts_prune).
        from .api import (
            receipts,  # noqa: F401
            tokens,  # noqa: F401
        )
        from .outbox import resolvers, tasks  # noqa: F401
