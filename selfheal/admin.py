"""Admin for the core: projects, memberships and API keys.

An API key's hash is never shown nor settable here: a key is created through the service, and its
raw value is shown once, in a message, right after it is created."""

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from . import services
from .models import ApiKey, Membership, Project

HEALING_FIELDS = ["test_command", "max_fix_attempts", "auto_apply_threshold", "stopping_point",
                  "rollback_webhook_url"]  # fmt: skip


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "stopping_point", "max_fix_attempts", "auto_apply_threshold",
                    "created_at"]  # fmt: skip
    list_filter = ["stopping_point"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["public_key", "created_at"]
    inlines = [MembershipInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["name", "slug", "description"]}),
        ("Healing", {"fields": HEALING_FIELDS}),
        ("Ingest", {"fields": ["public_key", "created_at"]}),
    ]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__name", "project__slug"]
    autocomplete_fields = ["user", "project"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["user", "name"]
        return ["user", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return []
        return ["user", "prefix", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        created, raw_key = services.create_api_key(obj.user, obj.name)
        for name in ("pk", "prefix", "key_hash", "created_at"):
            setattr(obj, name, getattr(created, name))
        obj._state.adding = False
        messages.warning(
            request,
            f"The new API key is {raw_key} — copy it now: it is stored hashed and will not be "
            "shown again.",
        )

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for api_key in keys:
            services.revoke_api_key(api_key)
        self.message_user(request, f"{len(keys)} API key(s) revoked.", messages.SUCCESS)
