from django.urls import path

from . import views

app_name = "reports-api"

urlpatterns = [
    path("", views.ReportKindListApi.as_view(), name="report_kinds"),
    path("<slug:kind>/", views.ReportApi.as_view(), name="report"),
]
