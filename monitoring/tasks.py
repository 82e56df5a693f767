"""Thin Celery wrappers around the monitoring services; the names are what the beat entries use.

The beat tasks take an optional `now` (ISO 8601) so a test, or an operator replaying a moment,
can drive them with a controlled clock.
"""

from datetime import datetime

from celery import shared_task

from . import alerts, deployments, errors, grouping, jobs


def _clock(now: str | None) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


@shared_task(name="monitoring.tasks.group_events", acks_late=True)
def group_events() -> int:
    """Sent (debounced) after events are stored: group everything pending."""
    return grouping.group_pending_events()


@shared_task(name="monitoring.tasks.scan_errors")
def scan_errors(now: str | None = None) -> dict:
    """Beat: group whatever is still pending (a lost task, a dead worker), then open repair
    proposals for new error groups."""
    grouped = grouping.group_pending_events()
    requested = errors.request_repairs_for_new_groups(_clock(now))
    return {"grouped": grouped, "repairs_requested": requested}


@shared_task(name="monitoring.tasks.detect_job_problems")
def detect_job_problems(now: str | None = None) -> list[dict]:
    return [
        {"run": d.run_id, "job": d.job_id, "problem": d.problem}
        for d in jobs.detect_job_problems(_clock(now))
    ]


@shared_task(name="monitoring.tasks.check_deployments")
def check_deployments(now: str | None = None) -> list[dict]:
    return [
        {"deployment": c.deployment_id, "health": c.health}
        for c in deployments.check_deployments(_clock(now))
    ]


@shared_task(name="monitoring.tasks.evaluate_alerts")
def evaluate_alerts(now: str | None = None) -> dict:
    summary = alerts.evaluate_alerts(_clock(now))
    return {
        "opened": [a.pk for a in summary.opened],
        "resolved": [a.pk for a in summary.resolved],
        "delivered": summary.delivered,
    }
