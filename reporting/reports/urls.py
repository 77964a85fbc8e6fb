from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.report_page, name="index"),
    path("runs/", views.report_run_create, name="run_create"),
    path("runs/<int:run_id>/", views.report_run_status, name="run_status"),
    path("runs/<int:run_id>/download/", views.report_run_download, name="run_download"),
    path("archive/", views.report_archive, name="archive"),
    path("schedules/", views.report_schedules, name="schedules"),
    path("schedules/<int:schedule_id>/", views.report_schedule_edit, name="schedule_edit"),
    path(
        "schedules/<int:schedule_id>/delete/",
        views.report_schedule_delete,
        name="schedule_delete",
    ),
]
