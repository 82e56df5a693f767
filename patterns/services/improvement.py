"""The self-improvement cycle (weekly, or on demand): is confidence calibrated against outcomes,
what is the lowest auto-apply threshold the history supports, how mature are the patterns, and
how much of the healing do learned templates do. Each run stores its report.

The fix history (attempts, auto-applied fixes, whether they held) belongs to the proposals app,
which sits above this one: it hands the history over as plain `FixRecord`s through a provider it
registers with `register_fix_history` (in its AppConfig.ready()).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from selfheal.engine import calibration
from selfheal.models import Project

from ..models import ImprovementRun, Pattern, PatternStatus, ThresholdOptimisation
from .policy import policy_for

logger = logging.getLogger(__name__)

EFFICIENCY_WEEKS = 12
EVIDENCE_STEP = 0.05  # the threshold rows a report keeps as evidence (plus the chosen one)


@dataclass(frozen=True)
class FixRecord:
    """One fix attempt, as the proposals app saw it."""

    project_id: int
    at: datetime
    strategy: str  # "template", "rules", "mutation", "llm", "revert"
    confidence: float | None
    passed: bool  # the fix made the whole test suite pass
    auto_applied: bool = False  # its proposal was applied by the auto-apply policy
    # For a passing fix whose proposal was decided: True when applied (automatically or by a
    # person) and not reverted since, False when rejected or reverted; None while undecided.
    held: bool | None = None


FixHistoryProvider = Callable[[datetime], Iterable[FixRecord]]
_providers: list[FixHistoryProvider] = []


def register_fix_history(provider: FixHistoryProvider) -> None:
    """Register a function `since -> FixRecords` (the proposals app's fix attempts)."""
    if provider not in _providers:
        _providers.append(provider)


def unregister_fix_history(provider: FixHistoryProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def fix_history(since: datetime) -> list[FixRecord]:
    return [record for provider in _providers for record in provider(since)]


def _setting(name: str, default):
    return getattr(settings, name, default)


# --- Sections of the report ---------------------------------------------------------------------


def _calibration_numbers(records: list[FixRecord]) -> dict | None:
    result = calibration.calibrate(
        [r.confidence for r in records], [r.passed for r in records], n_bins=10
    )
    if result is None:
        return None
    return {
        "count": result.count,
        "brier": round(result.brier, 4),
        "ece": round(result.ece, 4),
        "bins": [
            {
                "lower": b.lower,
                "upper": b.upper,
                "count": b.count,
                "mean_confidence": round(b.mean_confidence, 4),
                "success_rate": round(b.accuracy, 4),
            }
            for b in result.bins
        ],
    }


def calibration_section(records: list[FixRecord]) -> dict | None:
    """Confidence against whether the fix made the tests pass: overall and per strategy."""
    forecasts = [r for r in records if r.confidence is not None]
    overall = _calibration_numbers(forecasts)
    if overall is None:
        return None
    by_strategy: dict[str, list[FixRecord]] = defaultdict(list)
    for record in forecasts:
        by_strategy[record.strategy].append(record)
    overall["per_strategy"] = {
        strategy: {k: v for k, v in _calibration_numbers(rows).items() if k != "bins"}
        for strategy, rows in sorted(by_strategy.items())
    }
    return overall


def _evidence(choice: calibration.ThresholdChoice, current: float) -> list[dict]:
    keep = {round(current, 2)}
    if choice.threshold is not None:
        keep.add(choice.threshold)
    rows = []
    for row in choice.rows:
        on_step = abs(row.threshold / EVIDENCE_STEP - round(row.threshold / EVIDENCE_STEP)) < 1e-6
        if row.support and (on_step or row.threshold in keep):
            rows.append({
                "threshold": row.threshold,
                "decided": row.support,
                "held": row.held,
                "precision": round(row.precision, 4),
                "interval": [round(x, 4) for x in row.interval],
            })  # fmt: skip
    return rows


def threshold_section(records: list[FixRecord], now: datetime) -> list[dict]:
    """Per project with decided fixes: the lowest threshold whose precision reaches the target,
    applied or proposed as the project's policy says."""
    decided: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for r in records:
        if r.passed and r.held is not None and r.confidence is not None:
            decided[r.project_id].append((r.confidence, r.held))
    target = _setting("PATTERNS_TARGET_PRECISION", calibration.TARGET_PRECISION)
    min_support = _setting("PATTERNS_THRESHOLD_MIN_SUPPORT", calibration.MIN_SUPPORT)
    results = []
    projects = Project.objects.filter(pk__in=decided).select_related("auto_apply_policy")
    for project in projects.order_by("name"):
        choice = calibration.optimise_threshold(
            decided[project.pk], target=target, min_support=min_support
        )
        current = project.auto_apply_threshold
        mode = policy_for(project).threshold_optimisation
        if choice.threshold is None:
            action = "none"
        elif abs(choice.threshold - current) < 1e-9:
            action = "unchanged"
        elif mode == ThresholdOptimisation.APPLY:
            action = "applied"
        else:
            action = "proposed"
        if action == "applied":
            with transaction.atomic():
                Project.objects.filter(pk=project.pk).update(auto_apply_threshold=choice.threshold)
            logger.info(
                "Auto-apply threshold of %s set %.2f -> %.2f: %s",
                project.slug, current, choice.threshold, choice.reason,
            )  # fmt: skip
        results.append({
            "project_id": project.pk,
            "project": project.name,
            "mode": mode,
            "current": current,
            "recommended": choice.threshold,
            "action": action,
            "reason": choice.reason,
            "decided_fixes": len(decided[project.pk]),
            "auto_applied": sum(
                1 for r in records if r.project_id == project.pk and r.auto_applied
            ),
            "evidence": _evidence(choice, current),
        })  # fmt: skip
    return results


def maturity_section(now: datetime) -> dict:
    """Live patterns by maturity (young / proven / unreliable / stale), with the rule of each.
    A list, not a mapping: the report is stored as JSONB, which does not keep key order."""
    params = {
        "min_outcomes": _setting("PATTERNS_PROVEN_MIN_OUTCOMES", 10),
        "proven_rate": _setting("PATTERNS_PROVEN_RATE", 0.7),
        "stale_days": _setting("PATTERNS_STALE_DAYS", 30),
    }
    groups = {
        label: {"label": label, "count": 0, "rule": rule.format(**params), "examples": []}
        for label, rule in calibration.MATURITY_RULES.items()
    }
    live = Pattern.objects.filter(status__in=[PatternStatus.CANDIDATE, PatternStatus.ACTIVE])
    rows = live.order_by("-successes", "pk").values_list(
        "pk", "successes", "failures", "last_used_at", "created_at"
    )
    for pk, successes, failures, last_used, created in rows.iterator(chunk_size=2000):
        since_use = (now - (last_used or created)).total_seconds() / 86400
        group = groups[calibration.maturity(successes + failures, successes, since_use, **params)]
        group["count"] += 1
        if len(group["examples"]) < 10:
            group["examples"].append(pk)
    return {"groups": list(groups.values())}


def _week_start(moment: datetime) -> datetime:
    day = moment.astimezone(timezone.get_current_timezone()).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return day - timedelta(days=day.weekday())


def efficiency_section(records: list[FixRecord], now: datetime) -> dict:
    """Of the fixes that made the tests pass, week by week: how many a learned template made and
    how many were generated afresh (rules, mutation search, LLM, revert)."""
    first = _week_start(now) - timedelta(weeks=EFFICIENCY_WEEKS - 1)
    weeks = {first + timedelta(weeks=i): [0, 0] for i in range(EFFICIENCY_WEEKS)}
    for record in records:
        if not record.passed:
            continue
        week = _week_start(record.at)
        if week in weeks:
            weeks[week][0 if record.strategy == "template" else 1] += 1
    rows = []
    for week, (template, fresh) in weeks.items():
        total = template + fresh
        rows.append({
            "week": week.date().isoformat(),
            "fixes": total,
            "template": template,
            "fresh": fresh,
            "template_share": round(template / total, 4) if total else None,
        })  # fmt: skip
    template = sum(r["template"] for r in rows)
    total = sum(r["fixes"] for r in rows)
    return {"weeks": rows, "template_share": round(template / total, 4) if total else None}


# --- The run ------------------------------------------------------------------------------------


def _summary(report: dict) -> str:
    parts = []
    cal = report["calibration"]
    if cal:
        parts.append(f"calibration over {cal['count']} fixes: Brier {cal['brier']:.3f}, "
                     f"ECE {cal['ece']:.3f}")  # fmt: skip
    else:
        parts.append("no fix history to calibrate")
    for row in report["thresholds"]:
        if row["action"] in ("applied", "proposed"):
            parts.append(f"{row['project']}: threshold {row['current']:.2f} → "
                         f"{row['recommended']:.2f} {row['action']}")  # fmt: skip
    groups = report["maturity"]["groups"]
    parts.append(", ".join(f"{g['count']} {g['label']}" for g in groups) + " patterns")
    share = report["efficiency"]["template_share"]
    if share is not None:
        parts.append(f"templates made {share:.0%} of the fixes")
    return "; ".join(parts)


def run_self_improvement(trigger: str = "beat", now: datetime | None = None) -> ImprovementRun:
    """Calibration, threshold optimisation, pattern maturity and learning efficiency; stored."""
    now = now or timezone.now()
    window = timedelta(days=_setting("PATTERNS_IMPROVEMENT_WINDOW_DAYS", 90))
    since = min(now - window, _week_start(now) - timedelta(weeks=EFFICIENCY_WEEKS - 1))
    records = [r for r in fix_history(since) if r.at <= now]
    in_window = [r for r in records if r.at >= now - window]
    report = {
        "window_days": window.days,
        "history": {"providers": len(_providers), "fix_attempts": len(in_window)},
        "calibration": calibration_section(in_window),
        "thresholds": threshold_section(in_window, now),
        "maturity": maturity_section(now),
        "efficiency": efficiency_section(records, now),
    }
    if not _providers:
        report["history"]["note"] = (
            "no fix history provider is registered (the proposals app registers one): "
            "calibration, thresholds and learning efficiency have no data"
        )
    run = ImprovementRun.objects.create(
        trigger=trigger[:20],
        started_at=now,
        finished_at=timezone.now(),
        report=report,
        summary=_summary(report),
    )
    logger.info("Self-improvement run #%s: %s", run.pk, run.summary)
    return run
