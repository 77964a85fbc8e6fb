"""Every URL of the deliveries app. Two namespaces: "deliveries" (the console pages and the
public tracking page) and "driver" (the driver app and proof-of-delivery files, included by
config/urls.py from `driver_urls`). The order lookup itself is `console:orders` (/orders/) and the
driver's home page `console:driver_home`; both views live here in views/."""

from django.urls import path

from .views import driver, orders, pod, routes, tracking, vehicle, webhooks

app_name = "deliveries"

urlpatterns = [
    path("orders/<int:order_id>/", orders.order_detail, name="order_detail"),
    path("orders/new/", orders.order_new, name="order_new"),
    path("orders/import/", orders.order_import, name="order_import"),
    path("orders/import/commit/", orders.order_import_commit, name="order_import_commit"),
    path(
        "orders/import/template.csv",
        orders.order_import_template,
        name="order_import_template",
    ),
    path(
        "orders/<int:order_id>/tracking-link/send/",
        orders.order_tracking_link_resend,
        name="order_tracking_link_resend",
    ),
    # The customer's public tracking page: no login, the unguessable code is the key.
    path("track/<str:code>/", tracking.tracking_page, name="tracking_page"),
    path("track/<str:code>/status.json", tracking.tracking_status, name="tracking_status"),
    path("webhooks/", webhooks.webhook_list, name="webhook_list"),
    path(
        "webhooks/deliveries/<int:delivery_id>/",
        webhooks.webhook_delivery_detail,
        name="webhook_delivery_detail",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/replay/",
        webhooks.webhook_delivery_replay_view,
        name="webhook_delivery_replay",
    ),
    # The route console (deliveries/routes.py).
    path("routes/", routes.route_list, name="route_list"),
    path("routes/new/", routes.route_create, name="route_create"),
    path("routes/<int:route_id>/", routes.route_detail, name="route_detail"),
    path("routes/<int:route_id>/stops/", routes.route_stop_add, name="route_stop_add"),
    path(
        "routes/<int:route_id>/stops/<int:stop_id>/remove/",
        routes.route_stop_remove,
        name="route_stop_remove",
    ),
    path(
        "routes/<int:route_id>/stops/<int:stop_id>/move/",
        routes.route_stop_move,
        name="route_stop_move",
    ),
    path("routes/<int:route_id>/dispatch/", routes.route_dispatch, name="route_dispatch"),
    path(
        "routes/vehicles/<int:vehicle_id>/today.json",
        vehicle.vehicle_route_today_json,
        name="vehicle_route_today",
    ),
]

# The driver app and proof-of-delivery files: their own namespace, "driver".
driver_urls = (
    [
        path("driver/stops/<int:stop_id>/", driver.driver_stop, name="stop_detail"),
        path("driver/actions/", driver.driver_actions, name="actions"),
        path("pod/<int:proof_id>/<str:kind>/", pod.pod_file, name="pod_file"),
        path(
            "track/<str:tracking_code>/pod/<int:proof_id>/<str:kind>/",
            pod.tracking_pod_file,
            name="tracking_pod_file",
        ),
    ],
    "driver",
)
