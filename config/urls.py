from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("deliveries.api.urls")),
    path("", include("fleet.urls")),
    path("", include("deliveries.urls")),
    path("", include("deliveries.urls_driver")),
    path("", include("console.urls")),
]

handler403 = "console.errors.permission_denied"
handler404 = "console.errors.page_not_found"
