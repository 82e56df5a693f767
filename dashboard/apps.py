from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The /self-healing page: reads every app, so it sits above them all (nothing imports it)."""

    name = "dashboard"
    verbose_name = "Self-healing dashboard"
