from django.apps import AppConfig


class DeliveriesConfig(AppConfig):
    name = "deliveries"
    verbose_name = "Deliveries"

    def ready(self) -> None:
        # `resolvers` registers the app's cross-tenant resolver functions with tenancy.rls.
        from . import resolvers  # noqa: F401

        # The driver app's action receipts register their pruner (tenancy.receipts_prune).
        from .services import driver_actions  # noqa: F401
        from .services.webhooks import webhooks_subscribe

        webhooks_subscribe()
