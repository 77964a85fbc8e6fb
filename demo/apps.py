from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data and the simulated fleet. Nothing in the domain apps imports it: remove it from
    INSTALLED_APPS and the product runs without a demo (and without the roads base layer)."""

    name = "demo"
    verbose_name = "Demo"

    def ready(self) -> None:
        # Registers the beat task at start-up, as deliveries does for its tasks: beat and the
        # worker resolve it by name (Celery's autodiscovery only runs inside a worker).
        from . import tasks  # noqa: F401
