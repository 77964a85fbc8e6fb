from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "fleet"
    verbose_name = "Fleet"

    def ready(self) -> None:
        # Registers the app's cross-tenant resolver functions with tenancy.rls.
        from . import resolvers  # noqa: F401
