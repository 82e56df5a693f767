from django.apps import AppConfig


class ProposalsConfig(AppConfig):
    name = "proposals"
    verbose_name = "Heal: proposals"

    def ready(self) -> None:
        # Registers the healing alert rules with monitoring's alert registry.
        from . import alerts  # noqa: F401
