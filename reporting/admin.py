# Reports' admin lives beside their code; Django's admin autodiscovery looks here.
from .reports import admin as reports_admin  # noqa: F401
