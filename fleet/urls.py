from django.urls import path

from . import views

app_name = "fleet"

urlpatterns = [
    path("map/views/", views.saved_views, name="saved_views"),
    path("map/views/<int:view_id>/", views.saved_view_detail, name="saved_view_detail"),
    path("map/vehicles/<int:vehicle_id>/", views.vehicle_detail, name="vehicle_detail"),
    path("map/data-health/", views.data_health, name="data_health"),
]
