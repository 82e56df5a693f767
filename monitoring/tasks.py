"""Thin Celery wrappers around the monitoring services; the names are what the beat entries use."""

from celery import shared_task

from . import alerts, deployments, errors, grouping, jobs


@shared_task(name="monitoring.tasks.group_events", acks_late=True)
def group_events() -> int:
    """Sent (debounced) after events are stored: group everything pending."""
    return grouping.group_pending_events()


@shared_task(name="monitoring.tasks.scan_errors")
def scan_errors() -> dict:
    """Beat: group whatever is still pending (a lost task, a dead worker), then open repair
    proposals for new error groups."""
    grouped = grouping.group_pending_events()
    requested = errors.request_repairs_for_new_groups()
    return {"grouped": grouped, "repairs_requested": requested}


@shared_task(name="monitoring.tasks.detect_job_problems")
def detect_job_problems() -> list[dict]:
    return [
        {"run": d.run_id, "job": d.job_id, "problem": d.problem} for d in jobs.detect_job_problems()
    ]


@shared_task(name="monitoring.tasks.check_deployments")
def check_deployments() -> list[dict]:
    return [
        {"deployment": c.deployment_id, "health": c.health} for c in deployments.check_deployments()
    ]


@shared_task(name="monitoring.tasks.evaluate_alerts")
def evaluate_alerts() -> dict:
    summary = alerts.evaluate_alerts()
    return {
        "opened": [a.pk for a in summary.opened],
        "resolved": [a.pk for a in summary.resolved],
        "delivered": summary.delivered,
    }
