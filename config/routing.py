from django.urls import path

from alerts.consumers import AlertInboxConsumer
from fleet.live.consumer import LiveMapConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveMapConsumer.as_asgi(), name="ws-live"),
    path("ws/alerts/", AlertInboxConsumer.as_asgi(), name="ws-alerts"),
]
