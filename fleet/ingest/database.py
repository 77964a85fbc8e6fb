"""How ingest reaches its database, and what it raises when it cannot."""

from __future__ import annotations

from typing import Any

import psycopg
from django.conf import settings


class Unavailable(Exception):
    """The database could not take the fixes; the device must retry (503)."""


def conninfo_from_settings() -> str:
    # The ingest writer's own role: it commits many organizations' fixes in one transaction,
    # so it bypasses row-level security, and is granted only the tables ingest touches.
    db = settings.DATABASES["default"]
    params: dict[str, Any] = {
        "dbname": db.get("NAME"),
        "user": settings.DB_INGEST["USER"] or None,
        "password": settings.DB_INGEST["PASSWORD"] or None,
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "connect_timeout": 3,
        "application_name": "doorstep-ingest",
    }
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})
