from django.urls import path, register_converter

from . import views
from .dispute import views as dispute_views


class DayConverter:
    """yyyy-mm-dd that is a real date; anything else does not match (404, never a 500)."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> object:
        import datetime as dt

        day = dt.date.fromisoformat(value)  # ValueError: no match
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValueError("out of range")  # and date arithmetic never overflows
        return day

    def to_url(self, value: object) -> str:
        import datetime as dt

        return value.isoformat() if isinstance(value, dt.date) else str(value)


FIRST_YEAR, LAST_YEAR = 2000, 2100

register_converter(DayConverter, "day")

app_name = "history"

urlpatterns = [
    path("history/", views.history_index, name="index"),
    path("history/vehicles/<int:vehicle_id>/", views.vehicle_today, name="vehicle_today"),
    path("history/vehicles/<int:vehicle_id>/<day:day>/", views.vehicle_day, name="vehicle_day"),
    path(
        "history/vehicles/<int:vehicle_id>/<day:day>/track.json",
        views.vehicle_day_data,
        name="vehicle_day_data",
    ),
    path("history/routes/<int:route_id>/", views.route_plan_actual, name="route_plan_actual"),
    path(
        "history/orders/<int:order_id>/dispute-packet.pdf",
        dispute_views.dispute_packet,
        name="dispute_packet",
    ),
    path(
        "history/dispute-packets/<int:packet_id>.pdf",
        dispute_views.dispute_packet_file,
        name="dispute_packet_file",
    ),
    path(
        "history/dispute-packets/verify/",
        dispute_views.dispute_packet_verify_page,
        name="dispute_packet_verify",
    ),
    path(
        "history/vehicles/<int:vehicle_id>/<day:day>/track.<str:file_format>",
        views.vehicle_day_export,
        name="vehicle_day_export",
    ),
]
