"""Alerts: rules say which causes are active; one open alert per cause; delivery by e-mail and
webhook with retries; an alert resolves itself when its cause clears.

A rule is a function `now -> iterable of AlertCondition`, registered under a kind with
`@alert_rule("kind")`. Higher layers (patterns, proposals) add their causes the same way from their
`AppConfig.ready()`; this module never imports them.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .models import (
    Alert,
    AlertChannel,
    AlertDelivery,
    AlertSeverity,
    AlertStatus,
    ChannelKind,
    DeliveryStatus,
    Deployment,
    DeploymentHealth,
    HealingAction,
    HealingOutcome,
    Job,
    JobStatus,
)
from .models.alerts import SEVERITY_RANK
from .webhooks import post_json

log = logging.getLogger(__name__)

MAX_DELIVERY_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)


@dataclass(frozen=True)
class AlertCondition:
    project_id: int | None
    cause: str  # unique per alert-worthy situation, e.g. "bad_deploy:42"
    severity: str
    title: str
    body: str = ""


AlertRule = Callable[[datetime], Iterable[AlertCondition]]
RULES: dict[str, AlertRule] = {}


def alert_rule(kind: str) -> Callable[[AlertRule], AlertRule]:
    def register(rule: AlertRule) -> AlertRule:
        RULES[kind] = rule
        return rule

    return register


# --- raising and resolving ----------------------------------------------------------------------


def raise_alert(
    kind: str, condition: AlertCondition, now: datetime | None = None
) -> tuple[Alert, bool]:
    """Open an alert for the condition unless one is open for its cause; (alert, created)."""
    now = now or timezone.now()
    existing = Alert.objects.filter(cause=condition.cause, status=AlertStatus.OPEN).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                project_id=condition.project_id, kind=kind, cause=condition.cause,
                severity=condition.severity, title=condition.title[:300], body=condition.body,
                opened_at=now,
            )  # fmt: skip
            _queue_deliveries(alert, "opened", now)
    except IntegrityError:  # raised at the same moment elsewhere: that one is the open alert
        return Alert.objects.get(cause=condition.cause, status=AlertStatus.OPEN), False
    return alert, True


def resolve_alert(alert: Alert, now: datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        updated = Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
            status=AlertStatus.RESOLVED, resolved_at=now
        )
        if updated:
            alert.status, alert.resolved_at = AlertStatus.RESOLVED, now
            _queue_deliveries(alert, "resolved", now)


def _queue_deliveries(alert: Alert, event: str, now: datetime) -> None:
    if alert.project_id is None:
        return
    rank = SEVERITY_RANK[AlertSeverity(alert.severity)]
    channels = AlertChannel.objects.filter(project_id=alert.project_id, enabled=True)
    AlertDelivery.objects.bulk_create(
        AlertDelivery(alert=alert, channel=channel, event=event, next_attempt_at=now)
        for channel in channels
        if SEVERITY_RANK[AlertSeverity(channel.min_severity)] <= rank
    )


@dataclass
class EvaluationSummary:
    opened: list[Alert]
    resolved: list[Alert]
    delivered: int


def evaluate_alerts(now: datetime | None = None) -> EvaluationSummary:
    """Open alerts for active causes, resolve those whose cause cleared, deliver what is due."""
    now = now or timezone.now()
    opened, resolved = [], []
    for kind, rule in RULES.items():
        active = {condition.cause: condition for condition in rule(now)}
        for condition in active.values():
            alert, created = raise_alert(kind, condition, now)
            if created:
                opened.append(alert)
        for alert in Alert.objects.filter(kind=kind, status=AlertStatus.OPEN):
            if alert.cause not in active:
                resolve_alert(alert, now)
                resolved.append(alert)
    return EvaluationSummary(opened, resolved, deliver_pending(now))


# --- delivery -----------------------------------------------------------------------------------


def _subject(alert: Alert, event: str) -> str:
    prefix = "Resolved" if event == "resolved" else alert.severity.upper()
    return f"[selfheal] {prefix}: {alert.title}"


def _send(delivery: AlertDelivery) -> tuple[bool, str]:
    alert, channel = delivery.alert, delivery.channel
    if channel.kind == ChannelKind.EMAIL:
        recipients = [address.strip() for address in channel.target.split(",") if address.strip()]
        try:
            send_mail(
                _subject(alert, delivery.event), alert.body or alert.title,
                settings.DEFAULT_FROM_EMAIL, recipients,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - an SMTP error is retried and recorded
            return False, f"{type(exc).__name__}: {exc}"
        return True, ""
    result = post_json(
        channel.target,
        {
            "event": delivery.event, "alert_id": alert.pk, "kind": alert.kind,
            "cause": alert.cause, "severity": alert.severity, "title": alert.title,
            "body": alert.body, "status": alert.status,
            "project": alert.project.slug if alert.project else None,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        },
    )  # fmt: skip
    return result.ok, "" if result.ok else result.detail


def deliver_pending(now: datetime | None = None) -> int:
    """Send every due delivery; failures are retried with backoff, then marked failed (visible)."""
    now = now or timezone.now()
    sent = 0
    due = AlertDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).select_related("alert", "alert__project", "channel")
    for delivery in due:
        ok, error = _send(delivery)
        delivery.attempts += 1
        if ok:
            delivery.status, delivery.sent_at, delivery.last_error = DeliveryStatus.SENT, now, ""
            sent += 1
        else:
            delivery.last_error = error[:1000]
            if delivery.attempts >= MAX_DELIVERY_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
                log.error(
                    "Alert %s could not be delivered to %s: %s",
                    delivery.alert_id,
                    delivery.channel,
                    error,
                )
            else:
                delivery.next_attempt_at = now + RETRY_BASE * 2 ** (delivery.attempts - 1)
        delivery.save(
            update_fields=["status", "attempts", "last_error", "next_attempt_at", "sent_at"]
        )
    return sent


# --- the rules monitoring knows -----------------------------------------------------------------


def bad_deploy_condition(deployment: Deployment) -> AlertCondition:
    return AlertCondition(
        project_id=deployment.project_id,
        cause=f"bad_deploy:{deployment.pk}",
        severity=AlertSeverity.CRITICAL,
        title=f"Deploy {deployment.version} of {deployment.project} ({deployment.environment}) is bad",
        body=deployment.health_reason,
    )


@alert_rule("bad_deploy")
def bad_deploys(now: datetime) -> Iterable[AlertCondition]:
    """Active while a bad deployment is still the latest one of its environment."""
    newer = Deployment.objects.filter(
        project=OuterRef("project"), environment=OuterRef("environment"),
        deployed_at__gt=OuterRef("deployed_at"),
    )  # fmt: skip
    current_bad = (
        Deployment.objects.filter(health=DeploymentHealth.BAD)
        .annotate(superseded=Exists(newer))
        .filter(superseded=False)
        .select_related("project")
    )
    return [bad_deploy_condition(deployment) for deployment in current_bad]


@alert_rule("job_unrecovered")
def unrecovered_jobs(now: datetime) -> Iterable[AlertCondition]:
    """Active while a job is stuck or failed and its last healing action did not bring it back."""
    conditions = []
    troubled = Job.objects.filter(status__in=[JobStatus.STUCK, JobStatus.FAILED]).select_related(
        "project"
    )
    for job in troubled:
        last_action = HealingAction.objects.filter(job=job).order_by("-created_at").first()
        if last_action is not None and last_action.outcome == HealingOutcome.NOT_RECOVERED:
            conditions.append(
                AlertCondition(
                    project_id=job.project_id,
                    cause=f"job_unrecovered:{job.pk}",
                    severity=AlertSeverity.CRITICAL,
                    title=f"Job {job.name} is {job.status} and healing did not recover it",
                    body=f"Last healing action: {last_action.kind} {last_action.target} "
                    f"({last_action.detail}).",
                )
            )
    return conditions
