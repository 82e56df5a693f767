"""Admin for learning: patterns with their templates and outcomes, the auto-apply policies and the
threshold adjustments they caused, the circuit breakers with their transitions, the fix-variant
experiments with their rollouts, and the self-improvement reports.

Counts, confidence and states only change through the services; what a person decides here
(promote a candidate pattern, deprecate one, release one from quarantine, close a circuit) goes
through them too."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join

from . import services
from .models import (
    AutoApplyPolicy,
    BreakerTransition,
    CircuitBreaker,
    Experiment,
    FixTemplate,
    IllegalTransition,
    ImprovementRun,
    Pattern,
    PatternOutcome,
    PatternStatus,
    RolloutStep,
    ThresholdAdjustment,
)
from .services import experiments

OUTCOMES_SHOWN = 50
PRE_STYLE = "white-space:pre-wrap;font:12px/1.45 monospace;margin:0"


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class FixTemplateInline(ReadOnlyMixin, admin.StackedInline):
    model = FixTemplate
    extra = 0
    can_delete = False
    fields = ["variant", "description", "spec_json", "source", "occurrences", "successes",
              "failures", "confidence", "last_used_at"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="spec")
    def spec_json(self, obj: FixTemplate) -> str:
        return format_html('<pre style="{}">{}</pre>', PRE_STYLE, json.dumps(obj.spec, indent=2))


def _superuser_only(request: HttpRequest) -> None:
    # Patterns are shared by every project: only a superuser decides for all of them.
    if not request.user.is_superuser:
        raise PermissionDenied("Only a superuser may change the status of shared patterns.")


@admin.register(Pattern)
class PatternAdmin(admin.ModelAdmin):
    list_display = ["id", "category", "message", "status", "confidence_shown", "successes",
                    "failures", "last_used_at"]  # fmt: skip
    list_filter = ["status", "category"]
    search_fields = ["normalised_message", "root_cause", "signature"]
    readonly_fields = ["signature", "category", "normalised_message", "code_shape", "root_cause",
                       "status", "status_reason", "successes", "failures", "confidence_shown",
                       "credible_interval", "affected", "created_at", "updated_at",
                       "last_used_at", "recent_outcomes"]  # fmt: skip
    fields = readonly_fields
    inlines = [FixTemplateInline]
    actions = ["promote", "deprecate", "release"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("projects")

    @admin.display(description="message")
    def message(self, obj: Pattern) -> str:
        return obj.normalised_message[:80]

    @admin.display(description="confidence", ordering="confidence")
    def confidence_shown(self, obj: Pattern) -> str:
        return f"{obj.confidence:.3f}"

    @admin.display(description="95% credible interval")
    def credible_interval(self, obj: Pattern) -> str:
        from selfheal.engine.stats import beta_credible_interval

        low, high = beta_credible_interval(obj.successes, obj.failures)
        return f"{low:.2f} – {high:.2f}"

    @admin.display(description="projects affected")
    def affected(self, obj: Pattern) -> str:
        return ", ".join(p.name for p in obj.projects.all()) or "—"

    @admin.display(description=f"latest {OUTCOMES_SHOWN} outcomes")
    def recent_outcomes(self, obj: Pattern) -> str:
        rows = obj.outcomes.select_related("project", "template")[:OUTCOMES_SHOWN]
        if not rows:
            return "—"
        return format_html(
            "<table><tr><th>when</th><th>outcome</th><th>source</th><th>project</th>"
            "<th>variant</th><th>confidence after</th><th>detail</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (f"{o.created_at:%Y-%m-%d %H:%M}", "success" if o.success else "failure",
                     o.source, o.project or "—", o.template.variant if o.template else "—",
                     f"{o.confidence_after:.3f}", o.detail[:200])
                    for o in rows
                ),
            ),
        )  # fmt: skip

    def _change_status(
        self, request: HttpRequest, queryset: QuerySet, status: str, reason: str
    ) -> None:
        _superuser_only(request)
        changed, refused = 0, []
        for pattern in queryset:
            try:
                services.set_status(pattern.pk, status, f"{reason} by {request.user}")
                changed += 1
            except IllegalTransition as exc:
                refused.append(str(exc))
        if changed:
            self.message_user(request, f"{changed} pattern(s) now {status}.", messages.SUCCESS)
        for reason_text in refused:
            self.message_user(request, reason_text, messages.WARNING)

    @admin.action(description="Approve: make the selected candidate patterns active")
    def promote(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._change_status(request, queryset, PatternStatus.ACTIVE, "approved")

    @admin.action(description="Reject: deprecate the selected patterns")
    def deprecate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._change_status(request, queryset, PatternStatus.DEPRECATED, "rejected")

    @admin.action(description="Release the selected patterns from quarantine (back to candidate)")
    def release(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._change_status(request, queryset, PatternStatus.CANDIDATE, "released from quarantine")


@admin.register(PatternOutcome)
class PatternOutcomeAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "pattern", "success", "source", "project", "confidence_after"]
    list_filter = ["success", "source", "project"]
    search_fields = ["detail"]
    list_select_related = ["pattern", "project"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AutoApplyPolicy)
class AutoApplyPolicyAdmin(admin.ModelAdmin):
    list_display = ["project", "quiet_hours_start", "quiet_hours_end", "timezone",
                    "queue_depth_limit", "failure_rate_limit"]  # fmt: skip
    autocomplete_fields = ["project"]
    fieldsets = [
        (None, {"fields": ["project"]}),
        ("Quiet hours", {"fields": ["quiet_hours_start", "quiet_hours_end", "timezone",
                                    "quiet_hours_raise"]}),
        ("Load", {"fields": ["queue_depth_limit", "queue_depth_raise", "failure_rate_limit",
                             "failure_rate_raise", "failure_window_minutes"]}),
        ("Self-improvement", {"fields": ["threshold_optimisation"],
                              "description": "Whether the weekly self-improvement only proposes "
                                             "the lowest threshold with 95% historical precision, "
                                             "or sets it."}),
    ]  # fmt: skip


@admin.register(ThresholdAdjustment)
class ThresholdAdjustmentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "project", "base_threshold", "effective_threshold",
                    "reasons_shown", "confirmed_at"]  # fmt: skip
    list_filter = ["project"]
    list_select_related = ["project"]

    @admin.display(description="reasons")
    def reasons_shown(self, obj: ThresholdAdjustment) -> str:
        return "; ".join(obj.reasons) or "no adjustment"


class BreakerTransitionInline(ReadOnlyMixin, admin.TabularInline):
    model = BreakerTransition
    extra = 0
    can_delete = False
    fields = ["created_at", "from_state", "to_state", "reason"]
    readonly_fields = fields


@admin.register(CircuitBreaker)
class CircuitBreakerAdmin(admin.ModelAdmin):
    list_display = ["name", "state", "opened_at", "next_probe_at", "total_successes",
                    "total_failures", "updated_at"]  # fmt: skip
    list_filter = ["state"]
    readonly_fields = ["name", "state", "status_line", "opened_at", "next_probe_at",
                       "probe_started_at", "consecutive_opens", "total_successes",
                       "total_failures", "updated_at"]  # fmt: skip
    fieldsets = [
        (None, {"fields": readonly_fields}),
        ("Settings", {"fields": ["window_seconds", "min_calls", "failure_rate_threshold",
                                 "trend_delta", "cool_down_seconds", "max_cool_down_seconds"]}),
    ]  # fmt: skip
    inlines = [BreakerTransitionInline]
    actions = ["close_circuit"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="now")
    def status_line(self, obj: CircuitBreaker) -> str:
        return services.breaker_status(obj.name).summary

    @admin.action(
        description="Close the selected circuits (the service is back)", permissions=["change"]
    )
    def close_circuit(self, request: HttpRequest, queryset: QuerySet) -> None:
        for row in queryset:
            services.reset_breaker(row.name, f"closed by hand by {request.user}")
        self.message_user(request, f"{queryset.count()} circuit(s) closed.", messages.SUCCESS)


class RolloutStepInline(ReadOnlyMixin, admin.TabularInline):
    model = RolloutStep
    extra = 0
    can_delete = False
    fields = ["percent", "status", "winner_successes", "winner_trials", "champion_successes",
              "champion_trials", "reason", "started_at", "finished_at"]  # fmt: skip
    readonly_fields = fields


@admin.register(Experiment)
class ExperimentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Experiments start by themselves (a pattern with a new template) or through the API; here
    a person reads them, and may check, stop or roll back through the services."""

    list_display = ["id", "name", "status", "allocation", "method", "winner", "rollout_percent",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "allocation", "method"]
    search_fields = ["name", "prompt"]
    list_select_related = ["winner"]
    fields = ["name", "pattern", "prompt", "allocation", "method", "min_samples_per_arm",
              "looks_done", "step_min_outcomes", "status", "status_reason", "decision",
              "champion", "winner", "rollout_percent", "numbers", "created_at", "decided_at",
              "finished_at"]  # fmt: skip
    readonly_fields = fields
    inlines = [RolloutStepInline]
    actions = ["check_now", "stop_experiments", "roll_back_rollouts"]

    @admin.display(description="variants")
    def numbers(self, obj: Experiment) -> str:
        rows = experiments.variant_numbers(obj)
        return format_html(
            "<table><tr><th>variant</th><th>successes / trials</th><th>success rate</th>"
            "<th>95% interval</th><th>while exploring</th><th>traffic now</th><th></th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td></tr>",
                (
                    (v.label, v.successes, v.trials,
                     "—" if v.rate is None else f"{v.rate:.1%}",
                     "—" if v.interval is None else f"{v.interval[0]:.1%} – {v.interval[1]:.1%}",
                     v.exploring_successes, v.exploring_trials,
                     "Thompson" if v.share is None else f"{v.share:.0%}",
                     " ".join(t for t, on in (("champion", v.champion), ("winner", v.winner)) if on))
                    for v in rows
                ),
            ),
        )  # fmt: skip

    def _each(self, request: HttpRequest, queryset: QuerySet, action, *args) -> None:
        _superuser_only(request)
        for experiment in queryset:
            try:
                action(experiment.pk, *args)
            except experiments.ExperimentConflict as exc:
                self.message_user(request, str(exc), messages.WARNING)

    @admin.action(description="Check now: winner test or rollout step")
    def check_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        _superuser_only(request)
        for experiment in queryset:
            result = experiments.check_experiment(experiment.pk)
            self.message_user(request, f"#{experiment.pk} {result.action}: {result.reason}")

    @admin.action(description="Stop the selected experiments (the champion keeps the traffic)")
    def stop_experiments(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, experiments.stop, str(request.user), "stopped in the admin")

    @admin.action(description="Roll back the selected rollouts")
    def roll_back_rollouts(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, experiments.roll_back, str(request.user),
                   "rolled back in the admin")  # fmt: skip


@admin.register(ImprovementRun)
class ImprovementRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["started_at", "trigger", "summary"]
    list_filter = ["trigger"]
    fields = ["started_at", "finished_at", "trigger", "report_shown"]
    readonly_fields = fields

    @admin.display(description="report")
    def report_shown(self, obj: ImprovementRun) -> str:
        return render_to_string("patterns/_improvement_report.html", {"run": obj})
