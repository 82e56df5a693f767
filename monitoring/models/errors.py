"""Error events as they arrive, and the groups they are folded into."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from selfheal.models import Project
from selfheal.transitions import check_transition


class EventSource(models.TextChoices):
    SENTRY = "sentry", "Sentry SDK"
    JSON = "json", "JSON API"
    JUNIT = "junit", "JUnit XML"


class ErrorGroupStatus(models.TextChoices):
    UNRESOLVED = "unresolved", "Unresolved"
    RESOLVED = "resolved", "Resolved"
    IGNORED = "ignored", "Ignored"
    HEALING = "healing", "Healing"


_S = ErrorGroupStatus
# A resolved or ignored group that is reopened goes back to unresolved; a regression (a new event
# in a resolved group) does the same. Healing ends resolved (the fix held) or unresolved (it didn't).
ERROR_GROUP_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.UNRESOLVED: frozenset({_S.RESOLVED, _S.IGNORED, _S.HEALING}),
    _S.HEALING: frozenset({_S.RESOLVED, _S.UNRESOLVED}),
    _S.RESOLVED: frozenset({_S.UNRESOLVED}),
    _S.IGNORED: frozenset({_S.UNRESOLVED}),
}


class ErrorGroup(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="error_groups")
    fingerprint = models.CharField(max_length=64)
    exc_type = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    culprit = models.CharField(max_length=300, blank=True)  # "module in function" of the crash
    category = models.CharField(max_length=20, default="unknown")
    severity = models.CharField(max_length=10, default="medium")
    root_cause = models.CharField(max_length=500, blank=True)
    count = models.PositiveBigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    releases = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=ErrorGroupStatus.choices, default=ErrorGroupStatus.UNRESOLVED
    )
    deployment = models.ForeignKey(
        "monitoring.Deployment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="error_groups",
    )
    repair_requested_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    TRANSITIONS = ERROR_GROUP_TRANSITIONS

    class Meta:
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "fingerprint"], name="one_error_group_per_fingerprint"
            )
        ]
        indexes = [
            models.Index(fields=["project", "status", "-last_seen"], name="mon_group_list"),
            models.Index(fields=["project", "first_seen"], name="mon_group_first_seen"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def title(self) -> str:
        text = f"{self.exc_type}: {self.message}" if self.exc_type else self.message
        return text.splitlines()[0][:200] if text else "(no message)"

    def transition_to(self, new_status: str) -> None:
        check_transition(self.TRANSITIONS, self.status, new_status, f"Error group {self.pk}")
        self.status = new_status
        if new_status == ErrorGroupStatus.RESOLVED:
            self.resolved_at = timezone.now()
        elif new_status == ErrorGroupStatus.UNRESOLVED:
            self.resolved_at = None


class ErrorEvent(models.Model):
    """One occurrence, stored raw as it arrived; `group` is empty until grouping has run.

    The ungrouped rows are the durable queue: whatever a worker did not finish is picked up again.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="error_events")
    event_id = models.UUIDField(default=uuid.uuid4)
    group = models.ForeignKey(
        ErrorGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    source = models.CharField(max_length=10, choices=EventSource.choices)
    received_at = models.DateTimeField(default=timezone.now)
    timestamp = models.DateTimeField(
        default=timezone.now
    )  # when it happened (client clock, clamped)
    level = models.CharField(max_length=20, default="error")
    release = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    payload = models.JSONField()

    class Meta:
        ordering = ["-timestamp"]
        constraints = [
            models.UniqueConstraint(fields=["project", "event_id"], name="one_event_per_event_id")
        ]
        indexes = [
            models.Index(fields=["id"], condition=Q(group__isnull=True), name="mon_event_pending"),
            models.Index(fields=["project", "timestamp"], name="mon_event_project_time"),
            models.Index(fields=["group", "-timestamp"], name="mon_event_group_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id.hex} ({self.source})"
