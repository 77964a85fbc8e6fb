from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # `resolvers` registers the sweep's cross-tenant resolver with tenancy.rls.
        from . import resolvers  # noqa: F401
        from .defaults import default_rules_connect
        from .subscribers import alerts_subscribe

        alerts_subscribe()
        default_rules_connect()
