from django.urls import path

from . import views, views_orders, views_routes, views_tracking, views_vehicle, views_webhooks

app_name = "deliveries"

# The lookup page itself is `console:orders` (/orders/), served by views.order_list.
urlpatterns = [
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
    path("orders/new/", views_orders.order_new, name="order_new"),
    path("orders/import/", views_orders.order_import, name="order_import"),
    path("orders/import/commit/", views_orders.order_import_commit, name="order_import_commit"),
    path(
        "orders/import/template.csv",
        views_orders.order_import_template,
        name="order_import_template",
    ),
    path(
        "orders/<int:order_id>/tracking-link/send/",
        views_orders.order_tracking_link_resend,
        name="order_tracking_link_resend",
    ),
    # The customer's public tracking page: no login, the unguessable code is the key.
    path("track/<str:code>/", views_tracking.tracking_page, name="tracking_page"),
    path("track/<str:code>/status.json", views_tracking.tracking_status, name="tracking_status"),
    path("webhooks/", views_webhooks.webhook_list, name="webhook_list"),
    path(
        "webhooks/deliveries/<int:delivery_id>/",
        views_webhooks.webhook_delivery_detail,
        name="webhook_delivery_detail",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/replay/",
        views_webhooks.webhook_delivery_replay_view,
        name="webhook_delivery_replay",
    ),
    # The route console (deliveries/views_routes.py).
    path("routes/", views_routes.route_list, name="route_list"),
    path("routes/new/", views_routes.route_create, name="route_create"),
    path("routes/<int:route_id>/", views_routes.route_detail, name="route_detail"),
    path("routes/<int:route_id>/stops/", views_routes.route_stop_add, name="route_stop_add"),
    path(
        "routes/<int:route_id>/stops/<int:stop_id>/remove/",
        views_routes.route_stop_remove,
        name="route_stop_remove",
    ),
    path(
        "routes/<int:route_id>/stops/<int:stop_id>/move/",
        views_routes.route_stop_move,
        name="route_stop_move",
    ),
    path("routes/<int:route_id>/dispatch/", views_routes.route_dispatch, name="route_dispatch"),
    path(
        "routes/vehicles/<int:vehicle_id>/today.json",
        views_vehicle.vehicle_route_today_json,
        name="vehicle_route_today",
    ),
]
