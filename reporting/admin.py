# Reports' admin lives beside their code; Django's admin autodiscovery looks here.
from . import rollups_admin  # noqa: F401
from .reports import admin as reports_admin  # noqa: F401
