from django.urls import path

from . import views

app_name = "alerts-api"

urlpatterns = [
    path("", views.AlertListApi.as_view(), name="alert_list"),
    path("<int:alert_id>/", views.AlertDetailApi.as_view(), name="alert_detail"),
    path(
        "<int:alert_id>/acknowledge/",
        views.AlertAcknowledgeApi.as_view(),
        name="alert_acknowledge",
    ),
    path("<int:alert_id>/resolve/", views.AlertResolveApi.as_view(), name="alert_resolve"),
]
