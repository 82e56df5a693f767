"""Heal: project files with their history, proposals, sandbox test runs and fix attempts."""

from django.conf import settings
from django.db import models

from selfheal.models import Project
from selfheal.transitions import IllegalTransition, check_transition

__all__ = ["IllegalTransition"]  # raised by transition_to; callers catch it from here


class ProjectFile(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=500)
    content = models.TextField()
    version = models.PositiveIntegerField(default=1)
    deleted = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["project", "path"], name="one_file_per_path")
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}:{self.path} v{self.version}"


class ProjectFileVersion(models.Model):
    """Every content a file ever had; `tests_passed` marks versions a passing run was made with."""

    file = models.ForeignKey(ProjectFile, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    content = models.TextField()
    deleted = models.BooleanField(default=False)
    source = models.CharField(max_length=100)  # "import", "proposal #12", "revert", ...
    tests_passed = models.BooleanField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["file", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["file", "version"], name="one_row_per_file_version")
        ]

    def __str__(self) -> str:
        return f"{self.file.path} v{self.version}"


class ProposalStatus(models.TextChoices):
    PROPOSED = "proposed"
    SANDBOX_DEPLOYED = "sandbox_deployed"
    TESTS_RUNNING = "tests_running"
    TESTS_PASSED = "tests_passed"
    TESTS_FAILED = "tests_failed"
    AUTO_FIXING = "auto_fixing"
    NEEDS_REVIEW = "needs_review"
    UNFIXABLE = "unfixable"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"


S = ProposalStatus
# The healing loop's state machine (DESIGN.md). Anything not listed raises IllegalTransition.
PROPOSAL_TRANSITIONS: dict[str, set[str]] = {
    S.PROPOSED: {S.SANDBOX_DEPLOYED, S.REJECTED},
    S.SANDBOX_DEPLOYED: {S.TESTS_RUNNING, S.TESTS_FAILED},
    S.TESTS_RUNNING: {S.TESTS_PASSED, S.TESTS_FAILED},
    S.TESTS_FAILED: {S.AUTO_FIXING, S.SANDBOX_DEPLOYED, S.REJECTED},
    S.AUTO_FIXING: {S.TESTS_PASSED, S.TESTS_FAILED, S.UNFIXABLE, S.NEEDS_REVIEW},
    S.TESTS_PASSED: {S.APPROVED, S.REJECTED, S.NEEDS_REVIEW, S.SANDBOX_DEPLOYED},
    S.NEEDS_REVIEW: {S.APPROVED, S.REJECTED, S.AUTO_FIXING, S.SANDBOX_DEPLOYED},
    S.UNFIXABLE: {S.AUTO_FIXING, S.SANDBOX_DEPLOYED, S.REJECTED},
    S.APPROVED: {S.APPLIED, S.REJECTED},
    S.REJECTED: set(),
    S.APPLIED: set(),
}
AUTO_FIXABLE = {S.TESTS_FAILED, S.UNFIXABLE, S.NEEDS_REVIEW}
IN_PROGRESS = {S.SANDBOX_DEPLOYED, S.TESTS_RUNNING, S.AUTO_FIXING}


class Proposal(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="proposals")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=ProposalStatus.choices, default=ProposalStatus.PROPOSED
    )
    source = models.CharField(max_length=50, default="api")  # api, ui, demo, error_group, ...
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # Live progress of the running task, for the UI: "Attempt 2/3 — running tests".
    stage = models.CharField(max_length=200, blank=True)
    status_reason = models.TextField(blank=True)
    # Heartbeat of the task working on it; a stale one in a running state means a dead worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    recovery_count = models.PositiveSmallIntegerField(default=0)
    error_group_id = models.BigIntegerField(null=True, blank=True)  # monitoring's group, if any
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "status"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def can_transition_to(self, status: str) -> bool:
        return status in PROPOSAL_TRANSITIONS[ProposalStatus(self.status)]

    def transition_to(self, status: str, reason: str = "") -> None:
        """Change status in memory; the caller saves (inside its transaction)."""
        check_transition(PROPOSAL_TRANSITIONS, self.status, status, f"Proposal #{self.pk}")
        self.status = status
        self.status_reason = reason

    @property
    def needs_auto_fix(self) -> bool:
        return self.status in AUTO_FIXABLE

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS


class ChangeAction(models.TextChoices):
    CREATE = "create"
    MODIFY = "modify"
    DELETE = "delete"


class ProposalChange(models.Model):
    """One file change. `content` is the current content (with kept fixes); the submitted content
    stays in `original_content`."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="changes")
    path = models.CharField(max_length=500)
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    content = models.TextField(blank=True)
    original_content = models.TextField(blank=True)
    origin = models.CharField(max_length=20, default="proposal")  # "proposal" | "fix"

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "path"], name="one_change_per_path")
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.path}"


class TestRun(models.Model):
    __test__ = False  # not a pytest test class

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="test_runs")
    command = models.CharField(max_length=500)
    passed = models.BooleanField(default=False)
    exit_code = models.IntegerField(null=True)
    timed_out = models.BooleanField(default=False)
    tests_passed = models.PositiveIntegerField(default=0)
    tests_failed = models.PositiveIntegerField(default=0)
    tests_errored = models.PositiveIntegerField(default=0)
    tests_skipped = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list)  # [{name, outcome, message, details}]
    output = models.TextField(blank=True)
    isolation = models.CharField(max_length=30)
    duration = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Test run #{self.pk} ({'passed' if self.passed else 'failed'})"

    @property
    def failed_names(self) -> list[str]:
        return [r["name"] for r in self.results if r["outcome"] in ("failed", "error")]


class AttemptOutcome(models.TextChoices):
    RUNNING = "running"
    PASSED = "passed"  # the whole suite passes with this fix
    IMPROVED = "improved"  # fewer failures: the fix is kept and the next attempt builds on it
    FAILED = "failed"  # no better: the fix is dropped
    BLOCKED = "blocked"  # the security review refused the patch; never applied
    NO_CANDIDATE = "no_candidate"  # no strategy had anything left to try
    UNFIXABLE = "unfixable"  # a strategy is sure nothing in reach can fix it
    ERROR = "error"  # the attempt itself crashed or its worker died


class FixAttempt(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    strategy = models.CharField(max_length=20, blank=True)
    rule = models.CharField(max_length=200, blank=True)
    variant = models.CharField(max_length=50, blank=True)
    analysis = models.JSONField(default=dict)
    diff = models.TextField(blank=True)
    explanation = models.TextField(blank=True)
    confidence = models.FloatField(null=True)
    security_verdict = models.CharField(max_length=10, blank=True)
    security_reasons = models.JSONField(default=list)
    skipped_strategies = models.JSONField(default=list)  # [{"strategy", "reason"}]
    test_run = models.OneToOneField(
        TestRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="attempt"
    )
    outcome = models.CharField(
        max_length=20, choices=AttemptOutcome.choices, default=AttemptOutcome.RUNNING
    )
    pattern_id = models.BigIntegerField(null=True, blank=True)
    duration = models.FloatField(default=0.0)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["proposal", "number"]
        constraints = [
            models.UniqueConstraint(fields=["proposal", "number"], name="one_attempt_per_number")
        ]
        indexes = [
            models.Index(fields=["finished_at"], name="attempt_finished"),
            models.Index(fields=["-started_at"], name="attempt_started"),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of proposal #{self.proposal_id} ({self.outcome})"


class ReviewDecision(models.TextChoices):
    APPROVED = "approved"
    REJECTED = "rejected"


class Review(models.Model):
    """A decision on a proposal and its fixes, by a person or by the auto-apply policy.

    The review queue itself is the proposals waiting in `tests_passed` or `needs_review`."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="reviews")
    decision = models.CharField(max_length=10, choices=ReviewDecision.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.TextField(blank=True)
    automatic = models.BooleanField(default=False)  # applied by the auto-apply policy
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["automatic", "created_at"], name="review_automatic_time")]

    def __str__(self) -> str:
        return f"{self.decision} proposal #{self.proposal_id}"
