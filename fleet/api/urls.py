from django.urls import path

from . import views

app_name = "fleet-api"

urlpatterns = [
    path("hubs/", views.HubListApi.as_view(), name="hub_list"),
    path("hubs/<int:hub_id>/", views.HubDetailApi.as_view(), name="hub_detail"),
    path("zones/", views.ZoneListApi.as_view(), name="zone_list"),
    path("zones/<int:zone_id>/", views.ZoneDetailApi.as_view(), name="zone_detail"),
    path("vehicles/", views.VehicleListApi.as_view(), name="vehicle_list"),
    path("vehicles/<int:vehicle_id>/", views.VehicleDetailApi.as_view(), name="vehicle_detail"),
    path(
        "vehicles/<int:vehicle_id>/positions/",
        views.VehiclePositionHistoryApi.as_view(),
        name="vehicle_positions",
    ),
    path("drivers/", views.DriverListApi.as_view(), name="driver_list"),
    path("drivers/<int:driver_id>/", views.DriverDetailApi.as_view(), name="driver_detail"),
    path("positions/latest/", views.PositionLatestApi.as_view(), name="position_latest"),
    path("devices/", views.DeviceListCreateApi.as_view(), name="device_list"),
    path("devices/<int:device_id>/", views.DeviceDetailApi.as_view(), name="device_detail"),
    path(
        "devices/<int:device_id>/rotate-token/",
        views.DeviceTokenRotateApi.as_view(),
        name="device_token_rotate",
    ),
]
