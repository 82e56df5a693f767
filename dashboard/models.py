"""A healing scan started from the dashboard or the API, with the progress its task reports."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from monitoring.models import Job
from selfheal.models import Project
from selfheal.transitions import check_transition


class ScanMode(models.TextChoices):
    """What a scan may do; "auto" does everything the project's stopping point allows."""

    AUTO = "auto", "Detect and heal"


class ScanStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Finished"
    FAILED = "failed", "Failed"


SCAN_TRANSITIONS: dict[str, set[str]] = {
    ScanStatus.QUEUED: {ScanStatus.RUNNING, ScanStatus.FAILED},
    ScanStatus.RUNNING: {ScanStatus.SUCCEEDED, ScanStatus.FAILED},
    ScanStatus.SUCCEEDED: set(),
    ScanStatus.FAILED: set(),
}
ACTIVE_SCAN_STATUSES = (ScanStatus.QUEUED, ScanStatus.RUNNING)


class HealingScan(models.Model):
    """One run of "group what is pending, open repairs, test what is proposed, auto-fix what
    fails". `project` empty: every project the requester reviews."""

    mode = models.CharField(max_length=10, choices=ScanMode.choices, default=ScanMode.AUTO)
    status = models.CharField(max_length=10, choices=ScanStatus.choices, default=ScanStatus.QUEUED)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="healing_scans"
    )
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="healing_scans"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The projects the scan heals, fixed when it is requested (the requester's reviewer role).
    project_ids = models.JSONField(default=list)
    progress = models.FloatField(default=0.0)  # 0..1
    stage = models.CharField(max_length=200, blank=True)
    counts = models.JSONField(default=dict)  # {"events_grouped": 3, "healed": 1, ...}
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "-created_at"], name="dash_scan_status_time")]

    def __str__(self) -> str:
        return f"Healing scan #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_SCAN_STATUSES

    @property
    def percent(self) -> int:
        return round(self.progress * 100)

    def transition_to(self, status: str) -> None:
        """Change status in memory; the caller saves."""
        check_transition(SCAN_TRANSITIONS, self.status, status, f"Healing scan #{self.pk}")
        self.status = status
