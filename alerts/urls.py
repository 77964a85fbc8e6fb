from django.urls import path

from .views import inbox, notifications, settings

app_name = "alerts"

# The inbox itself is console:alerts (/alerts/, console/urls.py); these live beside it.
urlpatterns = [
    path("<int:alert_id>/", inbox.alert_detail, name="alert_detail"),
    path("<int:alert_id>/action/", inbox.alert_action, name="alert_action"),
    path("markers/", inbox.alert_markers, name="alert_markers"),
    path("notifications/", notifications.notification_list, name="notification_list"),
    path("emails/", notifications.email_outbox, name="email_outbox"),
    path("preferences/", settings.preferences, name="preferences"),
    path("settings/", settings.rule_list, name="rule_list"),
    path("settings/rules/new/", settings.rule_edit, name="rule_new"),
    path("settings/rules/<int:rule_id>/", settings.rule_edit, name="rule_edit"),
]
