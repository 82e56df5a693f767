from django.apps import AppConfig


class ProposalsConfig(AppConfig):
    name = "proposals"
    verbose_name = "Heal: proposals"

    def ready(self) -> None:
        # Registers the healing alert rules with monitoring's alert registry, and the fix history
        # with the weekly self-improvement (patterns cannot read proposals' tables itself).
        from patterns.services import register_fix_history

        from . import alerts  # noqa: F401
        from .history import fix_history

        register_fix_history(fix_history)
