from django.contrib import admin

from .models import (
    Alert,
    AlertChannel,
    AlertDelivery,
    Deployment,
    ErrorEvent,
    ErrorGroup,
    HealingAction,
    Job,
    JobPing,
    JobRun,
    Rollback,
)


@admin.register(ErrorGroup)
class ErrorGroupAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "category", "severity", "count", "status", "last_seen"]
    list_filter = ["status", "category", "severity", "project"]
    search_fields = ["exc_type", "message", "fingerprint", "culprit"]
    raw_id_fields = ["deployment"]
    date_hierarchy = "last_seen"


@admin.register(ErrorEvent)
class ErrorEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "project", "source", "level", "release", "timestamp", "group"]
    list_filter = ["source", "level", "project"]
    search_fields = ["event_id", "release"]
    raw_id_fields = ["group"]
    show_full_result_count = False  # a million events: no COUNT(*) per page


class JobRunInline(admin.TabularInline):
    model = JobRun
    extra = 0
    fields = ["rid", "status", "started_at", "progress", "finished_at", "exit_code", "slow"]
    readonly_fields = fields
    ordering = ["-last_activity_at"]
    max_num = 0
    show_change_link = True


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "slug", "status", "last_ping_at", "stuck_after"]
    list_filter = ["status", "project"]
    search_fields = ["name", "slug"]
    readonly_fields = ["ping_key", "status", "last_ping_at"]


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "job",
        "status",
        "started_at",
        "progress",
        "finished_at",
        "exit_code",
        "slow",
    ]
    list_filter = ["status", "slow"]
    raw_id_fields = ["job"]


@admin.register(JobPing)
class JobPingAdmin(admin.ModelAdmin):
    list_display = ["job", "kind", "value", "exit_code", "via", "created_at"]
    list_filter = ["kind", "via"]
    raw_id_fields = ["job", "run"]


@admin.register(HealingAction)
class HealingActionAdmin(admin.ModelAdmin):
    list_display = ["job", "problem", "kind", "target", "called_ok", "outcome", "created_at"]
    list_filter = ["problem", "kind", "called_ok", "outcome"]
    raw_id_fields = ["job", "run", "outcome_run"]


class RollbackInline(admin.TabularInline):
    model = Rollback
    extra = 0
    readonly_fields = ["url", "requested_at", "attempts", "succeeded", "status_code", "detail"]


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = ["version", "project", "environment", "deployed_at", "health", "p_value"]
    list_filter = ["health", "environment", "project"]
    search_fields = ["version", "commit"]
    inlines = [RollbackInline]


class AlertDeliveryInline(admin.TabularInline):
    model = AlertDelivery
    extra = 0
    readonly_fields = ["channel", "event", "status", "attempts", "last_error", "sent_at"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "kind", "severity", "status", "opened_at", "resolved_at"]
    list_filter = ["status", "severity", "kind", "project"]
    search_fields = ["title", "cause"]
    inlines = [AlertDeliveryInline]


@admin.register(AlertChannel)
class AlertChannelAdmin(admin.ModelAdmin):
    list_display = ["project", "kind", "target", "min_severity", "enabled"]
    list_filter = ["kind", "enabled"]
