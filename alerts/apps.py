from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        # Outbox subscribers: the consoles' live push and the notifications (in-app, email);
        # alert.opened / alert.resolved also become webhooks through deliveries' subscriber.
        from deliveries.services.webhooks import webhook_kinds_register

        from .live import alerts_live_subscribe
        from .notifications import tasks  # noqa: F401  (Celery registers the tasks)
        from .notifications.subscriber import notifications_subscribe

        alerts_live_subscribe()
        notifications_subscribe()
        webhook_kinds_register(["alert.opened", "alert.resolved"])
