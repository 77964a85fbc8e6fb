"""The environment of a child Django process (a Celery worker, a Daphne server) that a test
starts: the test settings, pointed at the test database pytest-django created."""

from __future__ import annotations

import os


def database_url_for_children() -> str:
    from django.conf import settings

    # Read at call time: pytest-django renames the database to the test one during setup.
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def django_process_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_for_children(),
        # The application role, as in production (the test process itself set the schema up).
        "DOORSTEP_DB_AS_OWNER": "0",
        **(extra or {}),
    }
