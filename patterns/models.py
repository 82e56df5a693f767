"""Learn: fix patterns and their executable templates, their outcomes, the auto-apply policy,
the circuit breakers that guard outside services, fix variants (A/B experiments with their
rollouts) and the self-improvement reports."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from selfheal.models import Project
from selfheal.transitions import IllegalTransition as IllegalTransition  # raised below
from selfheal.transitions import check_transition


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
        check_transition(PATTERN_TRANSITIONS, self.status, status, f"Pattern #{self.pk}")
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


class ThresholdOptimisation(models.TextChoices):
    PROPOSE = "propose", "Propose (a person changes the threshold)"
    APPLY = "apply", "Apply (the weekly self-improvement sets it)"


class AutoApplyPolicy(models.Model):
    """When the effective auto-apply threshold rises above the project's own: in quiet hours
    (nobody is around to notice a bad fix) and under load (a busy queue, many failing heals); and
    whether the weekly self-improvement may set the project's threshold itself."""

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
    threshold_optimisation = models.CharField(
        max_length=10, choices=ThresholdOptimisation.choices, default=ThresholdOptimisation.PROPOSE
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


# --- Fix variants (A/B) -------------------------------------------------------------------------


class ExperimentStatus(models.TextChoices):
    EXPLORING = "exploring", "Exploring (variants compete)"
    ROLLING_OUT = "rolling_out", "Rolling out the winner"
    COMPLETED = "completed", "Completed (the winner serves all traffic)"
    INCONCLUSIVE = "inconclusive", "Inconclusive (the champion stays)"
    ROLLED_BACK = "rolled_back", "Rolled back (the winner regressed)"
    STOPPED = "stopped", "Stopped by a person"


OPEN_EXPERIMENT = [ExperimentStatus.EXPLORING, ExperimentStatus.ROLLING_OUT]
EXPERIMENT_TRANSITIONS: dict[str, set[str]] = {
    ExperimentStatus.EXPLORING: {
        ExperimentStatus.ROLLING_OUT,
        ExperimentStatus.COMPLETED,  # the champion itself won: nothing to roll out
        ExperimentStatus.INCONCLUSIVE,
        ExperimentStatus.STOPPED,
    },
    ExperimentStatus.ROLLING_OUT: {
        ExperimentStatus.COMPLETED,
        ExperimentStatus.ROLLED_BACK,
        ExperimentStatus.STOPPED,
    },
    ExperimentStatus.COMPLETED: set(),
    ExperimentStatus.INCONCLUSIVE: set(),
    ExperimentStatus.ROLLED_BACK: set(),
    ExperimentStatus.STOPPED: set(),
}


class Allocation(models.TextChoices):
    THOMPSON = "thompson", "Thompson sampling"
    FIXED = "fixed", "Fixed shares"


class DecisionMethod(models.TextChoices):
    FISHER = "fisher", "Fisher's exact test"
    Z_TEST = "z_test", "Two-proportion z-test"
    BAYES = "bayes", "Bayesian probability to beat"


class Experiment(models.Model):
    """Competing fix variants of one pattern (its templates) or of one LLM prompt, the traffic
    split between them, the winner once a test says so, and its rollout 10% → 50% → 100%."""

    name = models.CharField(max_length=200)
    pattern = models.ForeignKey(
        Pattern, on_delete=models.CASCADE, null=True, blank=True, related_name="experiments"
    )
    prompt = models.CharField(max_length=100, blank=True)  # an LLM prompt's name
    allocation = models.CharField(
        max_length=10, choices=Allocation.choices, default=Allocation.THOMPSON
    )
    method = models.CharField(
        max_length=10, choices=DecisionMethod.choices, default=DecisionMethod.FISHER
    )
    # The first look at the winner test waits for this many outcomes per variant; later looks
    # for 2x, 4x, 8x (see selfheal.engine.experiments).
    min_samples_per_arm = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(100_000)]
    )
    looks_done = models.PositiveSmallIntegerField(default=0)
    # Outcomes of the winner a rollout step waits for before the next step.
    step_min_outcomes = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(5), MaxValueValidator(100_000)]
    )
    status = models.CharField(
        max_length=12, choices=ExperimentStatus.choices, default=ExperimentStatus.EXPLORING
    )
    status_reason = models.TextField(blank=True)
    # The variant in use before: it keeps the traffic a rollout step does not give the winner.
    champion = models.ForeignKey(
        "ExperimentVariant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    winner = models.ForeignKey(
        "ExperimentVariant", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rollout_percent = models.PositiveSmallIntegerField(default=0)  # 0 while exploring
    decision = models.TextField(blank=True)  # the latest winner test, in words
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(pattern__isnull=False) & Q(prompt=""))
                | (Q(pattern__isnull=True) & ~Q(prompt="")),
                name="experiment_of_a_pattern_or_a_prompt",
            ),
            models.UniqueConstraint(
                fields=["pattern"],
                condition=Q(status__in=OPEN_EXPERIMENT),
                name="one_open_experiment_per_pattern",
            ),
            models.UniqueConstraint(
                fields=["prompt"],
                condition=Q(status__in=OPEN_EXPERIMENT, pattern__isnull=True),
                name="one_open_experiment_per_prompt",
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="experiment_status_time")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_EXPERIMENT

    @property
    def subject(self) -> str:
        return f"pattern #{self.pattern_id}" if self.pattern_id else f"prompt {self.prompt!r}"

    def can_transition_to(self, status: str) -> bool:
        return status in EXPERIMENT_TRANSITIONS[ExperimentStatus(self.status)]

    def transition_to(self, status: str, reason: str) -> None:
        """Change the status (the caller saves); an illegal change raises."""
        check_transition(EXPERIMENT_TRANSITIONS, self.status, status, f"Experiment #{self.pk}")
        self.status = status
        self.status_reason = reason


class ExperimentVariant(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=50)
    template = models.ForeignKey(
        FixTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="experiment_variants",
    )
    share = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )  # fixed allocation only
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["experiment", "label"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "label"], name="one_variant_per_label")
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.label}"


class Assignment(models.Model):
    """One eligible failure given a variant, and what came of it (None until the outcome)."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    variant = models.ForeignKey(
        ExperimentVariant, on_delete=models.CASCADE, related_name="assignments"
    )
    project = models.ForeignKey(
        Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="assignments"
    )
    rollout_percent = models.PositiveSmallIntegerField(default=0)  # the step it was made in
    success = models.BooleanField(null=True, blank=True)
    assigned_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-assigned_at", "-pk"]
        indexes = [
            models.Index(
                fields=["experiment", "variant", "rollout_percent"], name="assignment_counts"
            ),
            models.Index(
                fields=["variant", "project", "-assigned_at"],
                condition=Q(success__isnull=True),
                name="assignment_pending",
            ),
        ]

    def __str__(self) -> str:
        outcome = {None: "pending", True: "success", False: "failure"}[self.success]
        return f"{self.variant} ({outcome})"


class StepStatus(models.TextChoices):
    HOLDING = "holding", "Holding (waiting for outcomes)"
    PASSED = "passed", "Passed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    STOPPED = "stopped", "Stopped"


class RolloutStep(models.Model):
    """One step of a winner's rollout, with the numbers it was judged on."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="steps")
    percent = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=12, choices=StepStatus.choices, default=StepStatus.HOLDING)
    reason = models.TextField(blank=True)
    winner_trials = models.PositiveIntegerField(default=0)
    winner_successes = models.PositiveIntegerField(default=0)
    champion_trials = models.PositiveIntegerField(default=0)
    champion_successes = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["experiment", "started_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "percent"], name="one_step_per_percent")
        ]

    def __str__(self) -> str:
        return f"{self.experiment_id} at {self.percent}% ({self.status})"


# --- Self-improvement ---------------------------------------------------------------------------


class ImprovementRun(models.Model):
    """One run of the self-improvement cycle and its report (calibration, thresholds, pattern
    maturity, learning efficiency), kept as it was found."""

    trigger = models.CharField(max_length=20)  # "beat", "command", "api"
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(default=dict)
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"Self-improvement of {self.started_at:%Y-%m-%d %H:%M}"
