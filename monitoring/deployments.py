"""Deployments: recorded from the pipeline, correlated with new error groups, judged by comparing
the error rate after with the rate before (exact Poisson rate-ratio test), rolled back when bad."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from selfheal.engine.rates import judge_rate_increase, poisson_rate_ratio_test
from selfheal.models import Project

from . import alerts
from .grouping import deploy_link_window
from .models import Deployment, DeploymentHealth, ErrorEvent, ErrorGroup, Rollback
from .webhooks import post_json

log = logging.getLogger(__name__)

ERROR_LEVELS = ("error", "fatal")
ROLLBACK_ATTEMPTS = 3


def baseline_window() -> timedelta:
    return timedelta(minutes=getattr(settings, "MONITORING_DEPLOY_BASELINE_MINUTES", 60))


def min_observation() -> timedelta:
    """How long after a deploy before the first verdict."""
    return timedelta(minutes=getattr(settings, "MONITORING_DEPLOY_MIN_OBSERVATION_MINUTES", 2))


def create_deployment(
    project: Project,
    version: str,
    *,
    commit: str = "",
    environment: str = "production",
    deployed_at: datetime | None = None,
    user: AbstractBaseUser | None = None,
) -> Deployment:
    deployment = Deployment(
        project=project, version=version, commit=commit, environment=environment or "production",
        deployed_at=deployed_at or timezone.now(), created_by=user,
    )  # fmt: skip
    deployment.full_clean(exclude=["created_by"])
    deployment.save()
    link_groups(deployment)
    return deployment


def _window_end(deployment: Deployment) -> datetime:
    """The watch window ends after the link window, or at the next deployment if sooner."""
    end = deployment.deployed_at + deploy_link_window()
    following = (
        Deployment.objects.filter(
            project_id=deployment.project_id,
            environment=deployment.environment,
            deployed_at__gt=deployment.deployed_at,
        )  # fmt: skip
        .order_by("deployed_at")
        .values_list("deployed_at", flat=True)
        .first()
    )
    return min(end, following) if following else end


def link_groups(deployment: Deployment) -> int:
    """Link the groups first seen in this deployment's window (and not linked yet) to it."""
    return ErrorGroup.objects.filter(
        project_id=deployment.project_id,
        deployment__isnull=True,
        first_seen__gte=deployment.deployed_at,
        first_seen__lt=_window_end(deployment),
    ).update(deployment=deployment)


def _count_errors(deployment: Deployment, start: datetime, end: datetime) -> int:
    events = ErrorEvent.objects.filter(
        project_id=deployment.project_id, timestamp__gte=start, timestamp__lt=end,
        level__in=ERROR_LEVELS,
    )  # fmt: skip
    return events.filter(environment__in=[deployment.environment, ""]).count()


@dataclass(frozen=True)
class HealthCheck:
    deployment_id: int
    health: str
    became_bad: bool


def evaluate_deployment(deployment: Deployment, now: datetime | None = None) -> HealthCheck:
    """Compare the error rate since the deploy with the hour before; move the health verdict."""
    now = now or timezone.now()
    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update().select_related("project").get(pk=deployment.pk)
        )
        if deployment.health not in (DeploymentHealth.PENDING, DeploymentHealth.SUSPECT):
            return HealthCheck(deployment.pk, deployment.health, False)
        window_end = _window_end(deployment)
        after_end = min(now, window_end)
        if after_end - deployment.deployed_at < min_observation():
            return HealthCheck(deployment.pk, deployment.health, False)
        before_start = deployment.deployed_at - baseline_window()
        before = _count_errors(deployment, before_start, deployment.deployed_at)
        after = _count_errors(deployment, deployment.deployed_at, after_end)
        comparison = poisson_rate_ratio_test(
            after,
            (after_end - deployment.deployed_at).total_seconds(),
            before,
            baseline_window().total_seconds(),
        )
        verdict = judge_rate_increase(comparison)
        window_over = now >= window_end
        deployment.events_before, deployment.events_after = before, after
        deployment.rate_ratio = (
            comparison.rate_ratio if comparison.rate_ratio != float("inf") else None
        )
        deployment.p_value = comparison.p_value
        deployment.checked_at = now
        ratio = "∞" if comparison.rate_ratio == float("inf") else f"{comparison.rate_ratio:.1f}×"
        deployment.health_reason = (
            f"{after} errors in {_minutes(after_end - deployment.deployed_at)} after vs {before} in "
            f"{_minutes(baseline_window())} before: rate {ratio}, p = {comparison.p_value:.2g}."
        )
        new_health = deployment.health
        if verdict == "bad":
            new_health = DeploymentHealth.BAD
        elif verdict == "suspect":
            new_health = DeploymentHealth.SUSPECT
        elif window_over:
            new_health = DeploymentHealth.HEALTHY
        became_bad = new_health == DeploymentHealth.BAD
        if new_health != deployment.health:
            deployment.transition_to(new_health)
        deployment.save()
        if became_bad:
            alerts.raise_alert("bad_deploy", alerts.bad_deploy_condition(deployment), now)
    if became_bad:
        request_rollback(deployment, now)
    return HealthCheck(deployment.pk, deployment.health, became_bad)


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def request_rollback(deployment: Deployment, now: datetime | None = None) -> Rollback | None:
    """Call the project's rollback webhook (retried), and record what happened."""
    url = deployment.project.rollback_webhook_url
    if not url:
        return None
    previous = (
        Deployment.objects.filter(
            project_id=deployment.project_id,
            environment=deployment.environment,
            deployed_at__lt=deployment.deployed_at,
        )  # fmt: skip
        .exclude(health=DeploymentHealth.BAD)
        .order_by("-deployed_at")
        .first()
    )
    result = post_json(
        url,
        {
            "action": "rollback", "project": deployment.project.slug,
            "environment": deployment.environment,
            "bad_deployment": {"id": deployment.pk, "version": deployment.version, "commit": deployment.commit},
            "roll_back_to": {"version": previous.version, "commit": previous.commit} if previous else None,
            "reason": deployment.health_reason,
        },
        attempts=ROLLBACK_ATTEMPTS,
        backoff_seconds=getattr(settings, "MONITORING_WEBHOOK_BACKOFF_SECONDS", 0.5),
    )  # fmt: skip
    if not result.ok:
        log.error("Rollback webhook for deployment %s failed: %s", deployment.pk, result.detail)
    return Rollback.objects.create(
        deployment=deployment, url=url, requested_at=now or timezone.now(), attempts=result.attempts,
        succeeded=result.ok, status_code=result.status_code, detail=result.detail,
    )  # fmt: skip


def check_deployments(now: datetime | None = None) -> list[HealthCheck]:
    """The beat cycle: link new groups and re-judge every deployment still being watched."""
    now = now or timezone.now()
    checks = []
    # A suspect verdict still standing when its window is over is final.
    watched = (
        Deployment.objects.filter(deployed_at__lte=now)
        .filter(
            Q(health=DeploymentHealth.PENDING)
            | Q(health=DeploymentHealth.SUSPECT, deployed_at__gte=now - deploy_link_window())
        )
        .order_by("deployed_at")
    )
    for deployment in watched:
        link_groups(deployment)
        checks.append(evaluate_deployment(deployment, now))
    if any(check.became_bad for check in checks):
        alerts.deliver_pending(now)
    return checks
