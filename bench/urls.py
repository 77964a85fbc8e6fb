"""Bench-only URLconf: the project's URLs plus /bench/ok/, the trivial baseline view (a plain
Django view returning "OK" through the full middleware stack, the figure the design compares
the ingest path against)."""

if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is not a benchmark
    raise SystemExit(0)

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def ok(request: HttpRequest) -> HttpResponse:
    return HttpResponse("OK", content_type="text/plain")


urlpatterns = [
    path("bench/ok/", ok, name="bench-ok"),
    path("", include("config.urls")),
]

handler403 = "console.errors.permission_denied"
handler404 = "console.errors.page_not_found"
