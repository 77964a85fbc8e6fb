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
    path("<int:alert_id>/assign/", views.AlertAssignApi.as_view(), name="alert_assign"),
    path("<int:alert_id>/snooze/", views.AlertSnoozeApi.as_view(), name="alert_snooze"),
    path("<int:alert_id>/note/", views.AlertNoteApi.as_view(), name="alert_note"),
]
