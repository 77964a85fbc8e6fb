"""The driver app and proof-of-delivery files (the page itself is `console:driver_home`)."""

from django.urls import path

from . import views_driver, views_pod

app_name = "driver"

urlpatterns = [
    path("driver/stops/<int:stop_id>/", views_driver.driver_stop, name="stop_detail"),
    path("driver/actions/", views_driver.driver_actions, name="actions"),
    path("pod/<int:proof_id>/<str:kind>/", views_pod.pod_file, name="pod_file"),
    path(
        "track/<str:tracking_code>/pod/<int:proof_id>/<str:kind>/",
        views_pod.tracking_pod_file,
        name="tracking_pod_file",
    ),
]
