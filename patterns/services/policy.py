"""The auto-apply policy: a passing fix is applied without a person only when the project's
stopping point allows it, its security verdict is safe and its confidence reaches the effective
threshold — the project's own, raised in quiet hours and under load."""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from selfheal.models import Project, StoppingPoint

from ..models import AutoApplyPolicy, PatternOutcome, ThresholdAdjustment

logger = logging.getLogger(__name__)

# A load adjustment measured by the beat task longer ago than this no longer counts.
LOAD_FRESH_FOR = timedelta(minutes=15)
MIN_OUTCOMES_FOR_RATE = 5


@dataclass
class AutoApplyDecision:
    apply: bool
    effective_threshold: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class EffectiveThreshold:
    base: float
    effective: float
    adjustments: list[dict]  # {"kind", "delta", "reason"}


def policy_for(project: Project) -> AutoApplyPolicy:
    """The project's policy; an unsaved default one when it has none (no quiet hours)."""
    try:
        return project.auto_apply_policy
    except AutoApplyPolicy.DoesNotExist:
        return AutoApplyPolicy(project=project)


def _in_window(moment: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end  # 22:00-06:00 spans midnight


def quiet_hours_adjustment(policy: AutoApplyPolicy, now: datetime) -> dict | None:
    if policy.quiet_hours_start is None or policy.quiet_hours_end is None:
        return None
    try:
        zone = zoneinfo.ZoneInfo(policy.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = now.astimezone(zone)
    if not _in_window(local.time(), policy.quiet_hours_start, policy.quiet_hours_end):
        return None
    window = f"{policy.quiet_hours_start:%H:%M}–{policy.quiet_hours_end:%H:%M} {policy.timezone}"
    return {
        "kind": "quiet_hours",
        "delta": policy.quiet_hours_raise,
        "reason": f"+{policy.quiet_hours_raise:.2f}: quiet hours ({window}), nobody is watching",
    }


def load_adjustments(
    policy: AutoApplyPolicy, queue_depth: int | None, failure_rate: float | None
) -> list[dict]:
    adjustments = []
    if queue_depth is not None and queue_depth >= policy.queue_depth_limit:
        adjustments.append({
            "kind": "queue_depth",
            "delta": policy.queue_depth_raise,
            "reason": f"+{policy.queue_depth_raise:.2f}: {queue_depth} tasks waiting "
                      f"(limit {policy.queue_depth_limit})",
        })  # fmt: skip
    if failure_rate is not None and failure_rate >= policy.failure_rate_limit:
        adjustments.append({
            "kind": "failure_rate",
            "delta": policy.failure_rate_raise,
            "reason": f"+{policy.failure_rate_raise:.2f}: {failure_rate:.0%} of recent heals failed "
                      f"in the last {policy.failure_window_minutes} min "
                      f"(limit {policy.failure_rate_limit:.0%})",
        })  # fmt: skip
    return adjustments


def _capped(base: float, adjustments: list[dict]) -> float:
    # Rounded: 0.85 + 0.05 must compare equal to 0.9, not 0.9000000000000001.
    return round(min(1.0, base + sum(a["delta"] for a in adjustments)), 6)


def effective_threshold(
    project: Project,
    now: datetime | None = None,
    *,
    queue_depth: int | None = None,
    failure_rate: float | None = None,
) -> EffectiveThreshold:
    policy = policy_for(project)
    now = now or timezone.now()
    adjustments = load_adjustments(policy, queue_depth, failure_rate)
    quiet = quiet_hours_adjustment(policy, now)
    if quiet:
        adjustments.insert(0, quiet)
    base = project.auto_apply_threshold
    return EffectiveThreshold(
        base, min(1.0, base + sum(a["delta"] for a in adjustments)), adjustments
    )


def recent_failure_rate(
    project: Project, minutes: int, now: datetime | None = None
) -> float | None:
    """Share of the project's recent pattern outcomes that were failures (None with too few)."""
    since = (now or timezone.now()) - timedelta(minutes=minutes)
    outcomes = PatternOutcome.objects.filter(project=project, created_at__gte=since)
    total = outcomes.count()
    if total < MIN_OUTCOMES_FOR_RATE:
        return None
    return outcomes.filter(success=False).count() / total


def measure_queue_depth() -> int | None:
    """Tasks waiting in the broker's queues (None when the broker cannot be asked)."""
    from selfheal.celery import app

    queues = {settings.CELERY_TASK_DEFAULT_QUEUE}
    queues |= {route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route}
    depth = 0
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0.2, timeout=2)
            channel = conn.default_channel
            for queue in sorted(queues):
                try:
                    depth += channel.queue_declare(queue=queue, passive=True).message_count
                except Exception:  # a queue nobody declared yet holds nothing
                    continue
    except Exception as exc:
        logger.warning("Could not measure the queue depth: %s", exc)
        return None
    return depth


def update_contextual_thresholds(
    now: datetime | None = None, queue_depth: int | None = None, measure: bool = True
) -> list[ThresholdAdjustment]:
    """Record every project's effective threshold with its reasons (a new row only when the
    adjustments change). The queue depth is measured once unless given."""
    now = now or timezone.now()
    if queue_depth is None and measure:
        queue_depth = measure_queue_depth()
    rows = []
    for project in Project.objects.select_related("auto_apply_policy"):
        policy = policy_for(project)
        rate = recent_failure_rate(project, policy.failure_window_minutes, now)
        current = effective_threshold(project, now, queue_depth=queue_depth, failure_rate=rate)
        latest = project.threshold_adjustments.order_by("-created_at", "-pk").first()
        kinds = [a["kind"] for a in current.adjustments]
        if (
            latest is not None
            and [a["kind"] for a in latest.adjustments] == kinds
            and abs(latest.effective_threshold - current.effective) < 1e-9
        ):
            latest.confirmed_at = now
            latest.queue_depth, latest.failure_rate = queue_depth, rate
            latest.save(update_fields=["confirmed_at", "queue_depth", "failure_rate"])
            rows.append(latest)
            continue
        rows.append(
            ThresholdAdjustment.objects.create(
                project=project,
                base_threshold=current.base,
                effective_threshold=current.effective,
                queue_depth=queue_depth,
                failure_rate=rate,
                adjustments=current.adjustments,
                created_at=now,
                confirmed_at=now,
            )
        )
    return rows


def _fresh_load_adjustments(project: Project, now: datetime) -> list[dict]:
    latest = (
        project.threshold_adjustments.filter(confirmed_at__gte=now - LOAD_FRESH_FOR)
        .order_by("-created_at", "-pk")
        .first()
    )
    if latest is None:
        return []
    return [a for a in latest.adjustments if a.get("kind") != "quiet_hours"]


def decide_auto_apply(
    project: Project, confidence: float, verdict: str, now: datetime | None = None
) -> AutoApplyDecision:
    """May a passing fix of this confidence and security verdict be applied with nobody looking?"""
    now = now or timezone.now()
    policy = policy_for(project)
    adjustments = _fresh_load_adjustments(project, now)
    quiet = quiet_hours_adjustment(policy, now)
    if quiet:
        adjustments.insert(0, quiet)
    threshold = _capped(project.auto_apply_threshold, adjustments)
    reasons = [a["reason"] for a in adjustments]
    apply = True
    if project.stopping_point != StoppingPoint.AUTO_APPLY:
        apply = False
        reasons.insert(0, f"the project's stopping point is {project.stopping_point}: "
                          "a person applies fixes")  # fmt: skip
    if verdict != "safe":
        apply = False
        reasons.append(f"the security review says {verdict}")
    if confidence < threshold:
        apply = False
        reasons.append(f"confidence {confidence:.2f} is below the threshold {threshold:.2f}")
    elif apply:
        reasons.append(f"confidence {confidence:.2f} reaches the threshold {threshold:.2f} and the "
                       "security review says safe")  # fmt: skip
    else:
        reasons.append(f"confidence {confidence:.2f} reaches the threshold {threshold:.2f}")
    return AutoApplyDecision(apply, threshold, reasons)
