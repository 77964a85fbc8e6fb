"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
django.setup(set_prefix=False)

from config.asgi_handler import ThreadReusingASGIHandler  # noqa: E402

django_asgi_app = ThreadReusingASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from fleet.ingest.asgi import with_ingest  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Trackers hit the ingest endpoints once per fix: they bypass Django's middleware stack.
        "http": with_ingest(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)


def gc_tune_for_serving() -> None:
    """Garbage-collector settings for a long-running server process.

    Measured at 2,000 OsmAnd requests/s (docs/benchmarks.md): full collections walking every
    object Django and the apps created at start-up were the main cause of the latency tail
    (p99 411 -> 159 ms). `freeze` moves those start-up objects out of the collector's sight
    (they live as long as the process anyway), and a larger young generation means far fewer
    collections of any kind. `DOORSTEP_GC_THRESHOLD=off` keeps Python's defaults."""
    setting = os.environ.get("DOORSTEP_GC_THRESHOLD", "20000,50,100")
    if setting == "off":
        return
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*(int(part) for part in setting.split(",")))


gc_tune_for_serving()
