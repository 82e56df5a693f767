from django.apps import AppConfig


class PatternsConfig(AppConfig):
    name = "patterns"
    verbose_name = "Learn: patterns"

    def ready(self) -> None:
        # Outgoing webhooks go through a circuit breaker per host; open breakers raise alerts.
        from monitoring.webhooks import set_call_guard

        from . import alerts  # noqa: F401
        from .services.breakers import guarded_webhook

        set_call_guard(guarded_webhook)
