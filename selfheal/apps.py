from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "selfheal"
    label = "selfheal"
    verbose_name = "Projects and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .beat import ensure_beat_entries

        post_migrate.connect(ensure_beat_entries, sender=self, dispatch_uid="selfheal-beat")
