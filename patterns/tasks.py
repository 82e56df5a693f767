"""Thin Celery wrappers around the pattern services; the names are what the beat entries use.

Each takes an optional `now` (ISO 8601) so a test or an operator can drive it with a given clock.
"""

import logging
from datetime import datetime

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


def _clock(now: str | None) -> datetime | None:
    return datetime.fromisoformat(now) if now else None


@shared_task(name="patterns.tasks.decay_patterns")
def decay_patterns(now: str | None = None) -> dict:
    deprecated = services.decay_patterns(_clock(now))
    return {"deprecated": [p.pk for p in deprecated]}


@shared_task(name="patterns.tasks.update_contextual_thresholds")
def update_contextual_thresholds(now: str | None = None) -> dict:
    rows = services.update_contextual_thresholds(_clock(now))
    return {str(row.project_id): row.effective_threshold for row in rows}


@shared_task(name="patterns.tasks.quality_checks")
def quality_checks(now: str | None = None) -> dict:
    """Start the experiments patterns with new templates are owed; in every open experiment,
    declare a winner when the test says so, judge the rollout step, roll back regressions."""
    return services.run_quality_checks(_clock(now)).as_dict()


@shared_task(name="patterns.tasks.self_improvement")
def self_improvement(now: str | None = None, trigger: str = "beat") -> dict:
    """Calibration, threshold optimisation, pattern maturity, learning efficiency: one stored run."""
    run = services.run_self_improvement(trigger, _clock(now))
    return {"run": run.pk, "summary": run.summary}
