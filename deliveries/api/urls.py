from django.urls import path

from . import views

app_name = "deliveries-api"

urlpatterns = [
    path("orders/", views.OrderListCreateApi.as_view(), name="order_list"),
    path("orders/<int:order_id>/", views.OrderDetailApi.as_view(), name="order_detail"),
    path(
        "orders/<int:order_id>/transition/",
        views.OrderTransitionApi.as_view(),
        name="order_transition",
    ),
    path("orders/<int:order_id>/events/", views.OrderEventListApi.as_view(), name="order_events"),
]
