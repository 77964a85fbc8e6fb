from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    verbose_name = "Organizations and roles"

    def ready(self) -> None:
        # Open websockets close when the session or the membership behind them ends.
        from .signals import connect_user_signals

        connect_user_signals()
