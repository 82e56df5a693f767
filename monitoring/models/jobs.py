"""Jobs that ping us (healthchecks-style), their runs, the pings, and what we did to heal them."""

import uuid
from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from selfheal.models import Project
from selfheal.transitions import check_transition

MAX_RUN_LOG_CHARS = 64 * 1024
MAX_PING_BODY_CHARS = 10 * 1024


class JobStatus(models.TextChoices):
    NEW = "new", "New"
    RUNNING = "running", "Running"
    UP = "up", "Up"
    FAILED = "failed", "Failed"
    STUCK = "stuck", "Stuck"


class Job(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, help_text="Sentry Crons monitor slug.")
    ping_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    stuck_after = models.DurationField(
        default=timedelta(minutes=5), help_text="A run with no update for this long is stuck."
    )
    expected_duration = models.DurationField(
        null=True, blank=True, help_text="Slower than this is slow (else 1.5× p95 of recent runs)."
    )
    retry_webhook_url = models.URLField(blank=True)
    retry_task_name = models.CharField(
        max_length=200, blank=True, help_text="A Celery task to send again, by name."
    )
    retry_when_slow = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.NEW)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "slug"], name="one_job_per_slug"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_healing_action(self) -> bool:
        return bool(self.retry_webhook_url or self.retry_task_name)


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    STUCK = "stuck", "Stuck"


_R = RunStatus
# A stuck run may come back to life or report in late; a finished run is final.
RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    _R.RUNNING: frozenset({_R.SUCCEEDED, _R.FAILED, _R.STUCK}),
    _R.STUCK: frozenset({_R.RUNNING, _R.SUCCEEDED, _R.FAILED}),
    _R.SUCCEEDED: frozenset(),
    _R.FAILED: frozenset(),
}


class JobRun(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs")
    rid = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(null=True, blank=True)  # empty: we only heard the end
    last_activity_at = models.DateTimeField()
    progress = models.FloatField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    log = models.TextField(blank=True)
    slow = models.BooleanField(default=False)
    # Each problem is acted on once per run.
    stuck_detected_at = models.DateTimeField(null=True, blank=True)
    failed_detected_at = models.DateTimeField(null=True, blank=True)
    slow_detected_at = models.DateTimeField(null=True, blank=True)

    TRANSITIONS = RUN_TRANSITIONS

    class Meta:
        ordering = ["-last_activity_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "rid"], condition=Q(rid__isnull=False), name="one_run_per_rid"
            )
        ]
        indexes = [
            models.Index(fields=["status", "last_activity_at"], name="mon_run_status"),
            models.Index(fields=["job", "-finished_at"], name="mon_run_job_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.job} run {self.pk} ({self.status})"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def is_open(self) -> bool:
        return self.status in (RunStatus.RUNNING, RunStatus.STUCK)

    def transition_to(self, new_status: str) -> None:
        check_transition(self.TRANSITIONS, self.status, new_status, f"Run {self.pk}")
        self.status = new_status

    def append_log(self, text: str) -> None:
        if not text:
            return
        combined = f"{self.log}\n{text}" if self.log else text
        # Keep the tail: the end of a log says why a run failed.
        self.log = combined[-MAX_RUN_LOG_CHARS:]


class PingKind(models.TextChoices):
    START = "start", "Start"
    PROGRESS = "progress", "Progress"
    SUCCESS = "success", "Success"
    FAIL = "fail", "Fail"


class JobPing(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="pings")
    run = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="pings"
    )
    kind = models.CharField(max_length=10, choices=PingKind.choices)
    value = models.FloatField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    via = models.CharField(max_length=10, default="http")  # "http" | "sentry"
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["job", "-created_at"], name="mon_ping_job_time")]

    def __str__(self) -> str:
        return f"{self.kind} ping for {self.job}"


class JobProblem(models.TextChoices):
    STUCK = "stuck", "Stuck"
    FAILED = "failed", "Failed"
    SLOW = "slow", "Slow"


class HealingOutcome(models.TextChoices):
    PENDING = "pending", "Waiting for the next run"
    RECOVERED = "recovered", "Next run succeeded"
    NOT_RECOVERED = "not_recovered", "Next run failed"


class HealingAction(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="healing_actions")
    run = models.ForeignKey(JobRun, on_delete=models.CASCADE, related_name="healing_actions")
    problem = models.CharField(max_length=10, choices=JobProblem.choices)
    kind = models.CharField(max_length=12)  # "webhook" | "celery_task"
    target = models.CharField(max_length=500)
    called_ok = models.BooleanField(default=False)
    detail = models.TextField(blank=True)  # HTTP status or the error
    outcome = models.CharField(
        max_length=15, choices=HealingOutcome.choices, default=HealingOutcome.PENDING
    )
    outcome_run = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} for {self.problem} {self.job}"
