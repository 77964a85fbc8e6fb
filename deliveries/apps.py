from django.apps import AppConfig


class DeliveriesConfig(AppConfig):
    name = "deliveries"
    verbose_name = "Deliveries"

    def ready(self) -> None:
        # Celery's autodiscovery finds only `tasks.py`; the route tasks live next to it.
        # `resolvers` registers the app's cross-tenant resolver functions with tenancy.rls.
        from . import resolvers, tasks_routes  # noqa: F401
        from .webhooks import webhooks_subscribe

        webhooks_subscribe()
