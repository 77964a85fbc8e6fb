from django.urls import path

from fleet.live.consumer import LiveMapConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveMapConsumer.as_asgi(), name="ws-live"),
]
