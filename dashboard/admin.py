from django.contrib import admin

from .models import HealingScan


@admin.register(HealingScan)
class HealingScanAdmin(admin.ModelAdmin):
    """Scans are started from the dashboard or the API; here they are only looked at."""

    list_display = ["pk", "status", "mode", "project", "requested_by", "progress", "stage",
                    "created_at", "finished_at"]  # fmt: skip
    list_filter = ["status", "mode"]
    readonly_fields = [f.name for f in HealingScan._meta.fields] + ["project_ids"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
