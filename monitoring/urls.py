from django.urls import path, re_path

from . import endpoints, views

app_name = "monitoring"

urlpatterns = [
    # Sentry-compatible ingest: the paths the SDKs build from a DSN.
    re_path(
        r"^api/(?P<project_id>\d+)/envelope/?$", endpoints.sentry_envelope, name="sentry-envelope"
    ),
    re_path(r"^api/(?P<project_id>\d+)/store/?$", endpoints.sentry_store, name="sentry-store"),
    # Job pings.
    path("ping/<uuid:ping_key>", endpoints.ping, name="ping"),
    path("ping/<uuid:ping_key>/", endpoints.ping),
    path("ping/<uuid:ping_key>/<str:action>", endpoints.ping, name="ping-action"),
    path("ping/<uuid:ping_key>/<str:action>/", endpoints.ping),
    # Screens.
    path("errors/", views.error_list, name="errors"),
    path("errors/<int:group_id>/", views.error_detail, name="error"),
    path("errors/<int:group_id>/status", views.error_status, name="error-status"),
    path("errors/<int:group_id>/repair", views.error_repair, name="error-repair"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("deployments/", views.deployment_list, name="deployments"),
]
