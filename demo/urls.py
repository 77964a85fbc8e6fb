from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("map/roads.geojson", views.roads, name="roads"),
]
