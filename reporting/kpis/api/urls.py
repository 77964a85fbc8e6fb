from django.urls import path, re_path

from . import views

app_name = "kpis-api"

urlpatterns = [
    path("summary/", views.KpiSummaryApi.as_view(), name="summary"),
    path("daily/", views.KpiDailyApi.as_view(), name="daily"),
    # Another `by` is a 404 (no such resource), like a bad id.
    re_path(
        r"^breakdown/(?P<by>vehicle|driver|hub|day)/$",
        views.KpiBreakdownApi.as_view(),
        name="breakdown",
    ),
]
