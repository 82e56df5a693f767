"""Learn: fix patterns and their executable templates, their outcomes, the auto-apply policy and
the circuit breakers that guard outside services."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from selfheal.models import Project


class IllegalTransition(Exception):
    """A status change the state machine does not allow."""


class PatternStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate (learning)"
    ACTIVE = "active", "Active (applied by the template fixer)"
    DEPRECATED = "deprecated", "Deprecated (unused or unreliable)"
    QUARANTINED = "quarantined", "Quarantined (malformed template)"


PATTERN_TRANSITIONS: dict[str, set[str]] = {
    PatternStatus.CANDIDATE: {
        PatternStatus.ACTIVE,
        PatternStatus.DEPRECATED,
        PatternStatus.QUARANTINED,
    },
    PatternStatus.ACTIVE: {PatternStatus.DEPRECATED, PatternStatus.QUARANTINED},
    PatternStatus.DEPRECATED: {PatternStatus.CANDIDATE, PatternStatus.QUARANTINED},
    PatternStatus.QUARANTINED: {PatternStatus.CANDIDATE},
}


class Pattern(models.Model):
    """One kind of failure (category + normalised message + shape of the failing code), universal
    across projects, with the templates that fixed it and the confidence its outcomes earned."""

    signature = models.CharField(max_length=64, unique=True)
    category = models.CharField(max_length=30)
    normalised_message = models.TextField()
    code_shape = models.CharField(max_length=200, blank=True)
    root_cause = models.TextField(blank=True)
    status = models.CharField(
        max_length=12, choices=PatternStatus.choices, default=PatternStatus.CANDIDATE
    )
    status_reason = models.TextField(blank=True)
    successes = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    # Beta(1, 1) posterior mean of the outcomes, kept in step with the counts by the services.
    confidence = models.FloatField(default=0.5)
    projects = models.ManyToManyField(Project, related_name="patterns", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-confidence", "-pk"]
        indexes = [
            models.Index(fields=["category", "status"], name="pattern_category_status"),
            models.Index(fields=["status", "last_used_at"], name="pattern_status_used"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category}: {self.normalised_message[:60]}"

    @property
    def outcomes_count(self) -> int:
        return self.successes + self.failures

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.outcomes_count if self.outcomes_count else None

    def can_transition_to(self, status: str) -> bool:
        return status in PATTERN_TRANSITIONS[PatternStatus(self.status)]

    def transition_to(self, status: str, reason: str) -> None:
        """Change the status (the caller saves); an illegal change raises."""
        if not self.can_transition_to(status):
            raise IllegalTransition(f"Pattern #{self.pk} cannot go from {self.status} to {status}.")
        self.status = status
        self.status_reason = reason


class FixTemplate(models.Model):
    """An executable template (see selfheal.engine.templates); a pattern's templates compete as
    its fix variants."""

    pattern = models.ForeignKey(Pattern, on_delete=models.CASCADE, related_name="templates")
    key = models.CharField(max_length=64)
    spec = models.JSONField()
    description = models.TextField(blank=True)
    source = models.CharField(max_length=20)  # the strategy that first found it
    variant = models.CharField(max_length=10)  # "A", "B", ... within the pattern
    occurrences = models.PositiveIntegerField(default=0)  # distinct failures it was learned from
    successes = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    confidence = models.FloatField(default=0.5)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pattern", "variant"]
        constraints = [
            models.UniqueConstraint(fields=["pattern", "key"], name="one_template_per_key"),
            models.UniqueConstraint(fields=["pattern", "variant"], name="one_variant_label"),
        ]

    def __str__(self) -> str:
        return f"{self.pattern_id}/{self.variant}: {self.description[:60]}"


class PatternOutcome(models.Model):
    """One thing that happened to a pattern: a fix learned, a template tried, a review."""

    pattern = models.ForeignKey(Pattern, on_delete=models.CASCADE, related_name="outcomes")
    template = models.ForeignKey(
        FixTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="outcomes"
    )
    project = models.ForeignKey(
        Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="pattern_outcomes"
    )
    success = models.BooleanField()
    source = models.CharField(max_length=30)  # "learned:rules", "auto_fix", "review", ...
    occurrence = models.CharField(max_length=64, blank=True)  # which failure a fix was learned from
    detail = models.TextField(blank=True)
    confidence_after = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["pattern", "-created_at"], name="outcome_pattern_time"),
            models.Index(fields=["project", "-created_at"], name="outcome_project_time"),
        ]

    def __str__(self) -> str:
        return f"{'success' if self.success else 'failure'} of pattern #{self.pattern_id} ({self.source})"


def _share(default: float) -> models.FloatField:
    return models.FloatField(
        default=default, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )


class AutoApplyPolicy(models.Model):
    """When the effective auto-apply threshold rises above the project's own: in quiet hours
    (nobody is around to notice a bad fix) and under load (a busy queue, many failing heals)."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="auto_apply_policy"
    )
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=60, default="UTC")
    quiet_hours_raise = _share(0.05)
    queue_depth_limit = models.PositiveIntegerField(default=20)
    queue_depth_raise = _share(0.05)
    failure_rate_limit = _share(0.3)
    failure_rate_raise = _share(0.05)
    failure_window_minutes = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1)]
    )

    class Meta:
        verbose_name_plural = "auto-apply policies"

    def __str__(self) -> str:
        return f"Auto-apply policy of {self.project}"


class ThresholdAdjustment(models.Model):
    """The effective threshold of a project as the beat task found it, with a reason for every
    adjustment. A new row only when the adjustments change; `confirmed_at` says it still holds."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="threshold_adjustments"
    )
    base_threshold = models.FloatField()
    effective_threshold = models.FloatField()
    queue_depth = models.IntegerField(null=True, blank=True)
    failure_rate = models.FloatField(null=True, blank=True)
    adjustments = models.JSONField(default=list)  # [{"kind", "delta", "reason"}]
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = "created_at"
        indexes = [models.Index(fields=["project", "-created_at"], name="threshold_project_time")]

    def __str__(self) -> str:
        return f"{self.project}: {self.base_threshold:.2f} → {self.effective_threshold:.2f}"

    @property
    def reasons(self) -> list[str]:
        return [a["reason"] for a in self.adjustments]


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed (calls go through)"
    OPEN = "open", "Open (calls refused)"
    HALF_OPEN = "half_open", "Half-open (one probe call)"


class CircuitBreaker(models.Model):
    """The stored state of a breaker (the logic is selfheal.engine.breaker) and its settings."""

    name = models.CharField(max_length=100, unique=True)
    state = models.CharField(
        max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED
    )
    events = models.JSONField(default=list)  # [[unix time, succeeded], ...] in the window
    opened_at = models.DateTimeField(null=True, blank=True)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    probe_started_at = models.DateTimeField(null=True, blank=True)
    consecutive_opens = models.PositiveIntegerField(default=0)
    total_successes = models.PositiveIntegerField(default=0)
    total_failures = models.PositiveIntegerField(default=0)
    window_seconds = models.PositiveIntegerField(default=300)
    min_calls = models.PositiveIntegerField(default=5, validators=[MinValueValidator(1)])
    failure_rate_threshold = _share(0.5)
    trend_delta = _share(0.4)
    cool_down_seconds = models.PositiveIntegerField(default=30)
    max_cool_down_seconds = models.PositiveIntegerField(default=600)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class BreakerTransition(models.Model):
    breaker = models.ForeignKey(
        CircuitBreaker, on_delete=models.CASCADE, related_name="transitions"
    )
    from_state = models.CharField(max_length=10, choices=BreakerState.choices)
    to_state = models.CharField(max_length=10, choices=BreakerState.choices)
    reason = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.breaker.name}: {self.from_state} → {self.to_state}"
