"""Deployments, their health after the fact, and the rollbacks we asked for."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from selfheal.models import Project
from selfheal.transitions import check_transition


class DeploymentHealth(models.TextChoices):
    PENDING = "pending", "Watching"
    HEALTHY = "healthy", "Healthy"
    SUSPECT = "suspect", "Suspect"
    BAD = "bad", "Bad"


_H = DeploymentHealth
# While the watch window is open a verdict can only get worse; at its end it is final.
DEPLOYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    _H.PENDING: frozenset({_H.HEALTHY, _H.SUSPECT, _H.BAD}),
    _H.SUSPECT: frozenset({_H.BAD, _H.HEALTHY}),
    _H.HEALTHY: frozenset(),
    _H.BAD: frozenset(),
}


class Deployment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="deployments")
    version = models.CharField(max_length=200)
    commit = models.CharField(max_length=64, blank=True)
    environment = models.CharField(max_length=64, default="production")
    deployed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    health = models.CharField(
        max_length=10, choices=DeploymentHealth.choices, default=DeploymentHealth.PENDING
    )
    health_reason = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    events_before = models.PositiveIntegerField(null=True, blank=True)
    events_after = models.PositiveIntegerField(null=True, blank=True)
    rate_ratio = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)

    TRANSITIONS = DEPLOYMENT_TRANSITIONS

    class Meta:
        ordering = ["-deployed_at"]
        indexes = [models.Index(fields=["project", "-deployed_at"], name="mon_deploy_time")]

    def __str__(self) -> str:
        return f"{self.project} {self.version} ({self.environment})"

    def transition_to(self, new_health: str) -> None:
        check_transition(self.TRANSITIONS, self.health, new_health, f"Deployment {self.pk}")
        self.health = new_health


class Rollback(models.Model):
    """One call of a project's rollback webhook for a bad deployment, with what came back."""

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="rollbacks")
    url = models.URLField()
    requested_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    status_code = models.IntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"rollback of {self.deployment} ({'ok' if self.succeeded else 'failed'})"
