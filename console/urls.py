from django.urls import path

from alerts.views.inbox import alert_inbox
from deliveries.views.driver import driver_home
from deliveries.views.orders import order_list
from fleet.views import map_page
from reporting.dashboard.views import dashboard

from . import views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("organization/switch/", views.organization_switch, name="organization_switch"),
    path("map/", map_page, name="map"),
    path("orders/", order_list, name="orders"),
    path("alerts/", alert_inbox, name="alerts"),
    path("dashboards/", dashboard, name="dashboards"),
    path("driver/", driver_home, name="driver_home"),
]
