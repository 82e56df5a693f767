from django.urls import path

from . import views

app_name = "patterns"
urlpatterns = [
    path("self-healing/improvement", views.improvement, name="improvement"),
    path("self-healing/improvement/run", views.run_improvement, name="improvement-run"),
]
