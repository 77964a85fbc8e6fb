from django.urls import path

from . import views

app_name = "deliveries"

# The lookup page itself is `console:orders` (/orders/), served by views.order_list.
urlpatterns = [
    path("orders/<int:order_id>/", views.order_detail, name="order_detail"),
]
