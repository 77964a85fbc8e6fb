from django.urls import path

from . import routes, views
from .proofs import FailureReasonListApi, OrderProofListApi, ProofDetailApi, ProofFileApi
from .webhooks import (
    WebhookDeliveryDetailApi,
    WebhookDeliveryListApi,
    WebhookDeliveryReplayApi,
    WebhookEndpointDetailApi,
    WebhookEndpointListCreateApi,
)

app_name = "deliveries-api"

urlpatterns = [
    path("orders/", views.OrderListCreateApi.as_view(), name="order_list"),
    path("orders/batch/", views.OrderBatchCreateApi.as_view(), name="order_batch"),
    # <path:>: a shipper's reference may hold a slash ("2026/000123").
    path(
        "orders/by-reference/<path:reference>/",
        views.OrderByReferenceApi.as_view(),
        name="order_by_reference",
    ),
    path(
        "orders/by-tracking-code/<str:tracking_code>/",
        views.OrderByTrackingCodeApi.as_view(),
        name="order_by_tracking_code",
    ),
    path("orders/<int:order_id>/", views.OrderDetailApi.as_view(), name="order_detail"),
    path("orders/<int:order_id>/cancel/", views.OrderCancelApi.as_view(), name="order_cancel"),
    path(
        "orders/<int:order_id>/transition/",
        views.OrderTransitionApi.as_view(),
        name="order_transition",
    ),
    path("orders/<int:order_id>/events/", views.OrderEventListApi.as_view(), name="order_events"),
    path("routes/", routes.RouteListCreateApi.as_view(), name="route_list"),
    path("routes/<int:route_id>/", routes.RouteDetailApi.as_view(), name="route_detail"),
    path(
        "routes/<int:route_id>/dispatch/", routes.RouteDispatchApi.as_view(), name="route_dispatch"
    ),
    path("routes/<int:route_id>/stops/", routes.RouteStopAddApi.as_view(), name="route_stop_add"),
    path(
        "routes/<int:route_id>/stops/reorder/",
        routes.RouteStopsReorderApi.as_view(),
        name="route_stops_reorder",
    ),
    path(
        "routes/<int:route_id>/stops/<int:stop_id>/",
        routes.RouteStopDetailApi.as_view(),
        name="route_stop_detail",
    ),
    path(
        "routes/<int:route_id>/stops/<int:stop_id>/move/",
        routes.RouteStopMoveApi.as_view(),
        name="route_stop_move",
    ),
    path(
        "routes/<int:route_id>/stops/<int:stop_id>/remove/",
        routes.RouteStopRemoveApi.as_view(),
        name="route_stop_remove",
    ),
]

# Webhooks, proofs of delivery and failure reasons (deliveries/api/webhooks.py, proofs.py).
urlpatterns += [
    path(
        "webhooks/endpoints/",
        WebhookEndpointListCreateApi.as_view(),
        name="webhook_endpoint_list",
    ),
    path(
        "webhooks/endpoints/<int:endpoint_id>/",
        WebhookEndpointDetailApi.as_view(),
        name="webhook_endpoint_detail",
    ),
    path(
        "webhooks/deliveries/",
        WebhookDeliveryListApi.as_view(),
        name="webhook_delivery_list",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/",
        WebhookDeliveryDetailApi.as_view(),
        name="webhook_delivery_detail",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/replay/",
        WebhookDeliveryReplayApi.as_view(),
        name="webhook_delivery_replay",
    ),
    path("orders/<int:order_id>/proofs/", OrderProofListApi.as_view(), name="order_proofs"),
    path("proofs/<int:proof_id>/", ProofDetailApi.as_view(), name="proof_detail"),
    path("proofs/<int:proof_id>/<str:kind>/", ProofFileApi.as_view(), name="proof_file"),
    path("failure-reasons/", FailureReasonListApi.as_view(), name="failure_reason_list"),
]
