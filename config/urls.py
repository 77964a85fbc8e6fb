from django.apps import apps
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from deliveries.urls import driver_urls
from tenancy.api.views import EventFeedApi

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script from ?script= instead of inline: the CSP allows
    # script from 'self' only. Its template moves the inline <style> to a file for the same reason.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("api/v1/events/", EventFeedApi.as_view(), name="api-events"),
    path("api/v1/", include("deliveries.api.urls")),
    path("api/v1/", include("fleet.api.urls")),
    path("api/v1/", include("tenancy.api.urls")),
    path("api/v1/alerts/", include("alerts.api.urls")),
    path("api/v1/reports/", include("reporting.reports.api.urls")),
    path("api/v1/kpis/", include("reporting.kpis.api.urls")),
    path("", include("fleet.urls")),
    path("", include("deliveries.urls")),
    path("", include(driver_urls)),
    path("alerts/", include("alerts.urls")),
    path("", include("reporting.urls")),
    path("reports/", include("reporting.reports.urls")),
    path("", include("console.urls")),
]
if apps.is_installed("demo"):
    urlpatterns.append(path("", include("demo.urls")))

handler403 = "console.errors.permission_denied"
handler404 = "console.errors.page_not_found"
