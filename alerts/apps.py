from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Outbox subscribers: the streaming evaluation (positions.flushed, order and stop
        # events), the consoles' live push and the notifications (in-app, email);
        # alert.opened / alert.resolved also become webhooks through deliveries' subscriber.
        # `resolvers` registers the sweep's cross-tenant resolver with tenancy.rls.
        from deliveries.services.webhooks import webhook_kinds_register

        from . import resolvers  # noqa: F401
        from .defaults import default_rules_connect
        from .live import alerts_live_subscribe
        from .notifications import tasks  # noqa: F401  (Celery registers the tasks)
        from .notifications.subscriber import notifications_subscribe
        from .subscribers import alerts_subscribe

        alerts_subscribe()
        alerts_live_subscribe()
        notifications_subscribe()
        default_rules_connect()
        webhook_kinds_register(["alert.opened", "alert.resolved"])
