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
    # Fix variants (A/B) and their gradual rollouts arrive with the Improve issue; until then there
    # is nothing to check, and the beat entry says so rather than pretending.
    logger.info("Quality checks: no experiments yet (fix variants and rollouts are not built)")
    return {"checked": 0, "detail": "no experiments yet"}


@shared_task(name="patterns.tasks.self_improvement")
def self_improvement(now: str | None = None) -> dict:
    # Calibration and threshold optimisation arrive with the Improve issue (selfheal.engine.stats
    # already has the Brier score, reliability bins and ECE they need).
    logger.info("Self-improvement: not built yet (calibration and threshold optimisation)")
    return {"runs": 0, "detail": "not built yet"}
