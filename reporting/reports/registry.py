"""Every report kind by its key: the console, the API, the export runs and the schedules all
look kinds up here."""

from __future__ import annotations

from .definitions import ReportKind
from .kinds import KINDS

REPORT_KINDS: dict[str, ReportKind] = {kind.key: kind for kind in KINDS}
KIND_CHOICES = [(kind.key, kind.title) for kind in KINDS]


def report_kind_get(key: str) -> ReportKind:
    """Raises KeyError for an unknown kind."""
    return REPORT_KINDS[key]
