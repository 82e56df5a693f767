from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("self-healing", views.index, name="index"),
    path("self-healing/", views.index),
    path("self-healing/parts/<slug:name>", views.part, name="part"),
    path("self-healing/scan", views.start_scan, name="start-scan"),
    path("self-healing/scan/<int:pk>", views.scan_status, name="scan"),
]
