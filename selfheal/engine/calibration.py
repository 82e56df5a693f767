"""Is the healer getting better? Calibration of confidence against outcomes, the lowest auto-apply
threshold the history supports, and how mature the learned patterns are. Pure Python."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import stats

TARGET_PRECISION = 0.95
MIN_SUPPORT = 20  # decided fixes at or above a threshold before its precision counts as evidence
THRESHOLD_FLOOR = 0.5  # never propose auto-applying fixes the healer itself thinks a coin toss
THRESHOLD_STEP = 0.01

YOUNG, PROVEN, STALE, UNRELIABLE = "young", "proven", "stale", "unreliable"
MATURITY_RULES = {
    YOUNG: "fewer than {min_outcomes} outcomes",
    PROVEN: "{min_outcomes}+ outcomes, 95% lower bound of the success rate ≥ {proven_rate:.0%}, "
    "used in the last {stale_days} days",
    UNRELIABLE: "{min_outcomes}+ outcomes but the lower bound of the success rate is below "
    "{proven_rate:.0%}",
    STALE: "not used for {stale_days} days",
}


@dataclass(frozen=True)
class Calibration:
    count: int
    brier: float
    ece: float  # expected calibration error
    bins: tuple[stats.ReliabilityBin, ...]


def calibrate(
    probabilities: Sequence[float], outcomes: Sequence[bool], n_bins: int = 10
) -> Calibration | None:
    """Brier score, reliability table and ECE of the forecasts; None with no forecast."""
    if not probabilities:
        return None
    return Calibration(
        count=len(probabilities),
        brier=stats.brier_score(probabilities, outcomes),
        ece=stats.expected_calibration_error(probabilities, outcomes, n_bins),
        bins=tuple(stats.reliability_bins(probabilities, outcomes, n_bins)),
    )


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    support: int  # decided fixes with confidence >= threshold
    held: int
    precision: float | None
    interval: tuple[float, float] | None  # 95% Wilson interval of the precision


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float | None  # None: no threshold has the evidence
    reason: str
    rows: tuple[ThresholdRow, ...]  # every candidate threshold, ascending

    def row(self, threshold: float) -> ThresholdRow | None:
        return next((r for r in self.rows if abs(r.threshold - threshold) < 1e-9), None)


def candidate_thresholds(
    floor: float = THRESHOLD_FLOOR, step: float = THRESHOLD_STEP
) -> tuple[float, ...]:
    count = round((1.0 - floor) / step)
    return tuple(round(floor + i * step, 6) for i in range(count + 1))


def precision_at(decisions: Sequence[tuple[float, bool]], threshold: float) -> ThresholdRow:
    """Of the decided fixes at or above `threshold`, the share that held."""
    chosen = [held for confidence, held in decisions if confidence >= threshold - 1e-9]
    support, held = len(chosen), sum(chosen)
    return ThresholdRow(
        threshold=threshold,
        support=support,
        held=held,
        precision=held / support if support else None,
        interval=stats.wilson_interval(held, support) if support else None,
    )


def optimise_threshold(
    decisions: Sequence[tuple[float, bool]],
    *,
    target: float = TARGET_PRECISION,
    min_support: int = MIN_SUPPORT,
    candidates: Sequence[float] | None = None,
) -> ThresholdChoice:
    """The lowest threshold whose historical precision reaches `target`.

    `decisions` are (confidence, held) of passing fixes that reached a verdict: held when applied
    (automatically or by a person) and not reverted, not held when rejected or reverted. A
    threshold counts only with `min_support` decided fixes at or above it.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError("target precision must be in (0, 1]")
    rows = tuple(precision_at(decisions, t) for t in (candidates or candidate_thresholds()))
    for row in rows:
        if row.support >= min_support and row.precision is not None and row.precision >= target:
            return ThresholdChoice(
                row.threshold,
                f"{row.held} of {row.support} decided fixes at confidence ≥ {row.threshold:.2f} "
                f"held ({row.precision:.1%} ≥ {target:.0%}); every lower threshold falls short",
                rows,
            )
    supported = [r for r in rows if r.support >= min_support]
    if not supported:
        reason = f"not enough evidence: fewer than {min_support} decided fixes at any threshold"
    else:
        best = max(supported, key=lambda r: (r.precision or 0.0, -r.threshold))
        reason = (
            f"no threshold reaches {target:.0%} precision with {min_support}+ decided fixes "
            f"(best: {best.precision:.1%} at ≥ {best.threshold:.2f}, {best.support} fixes)"
        )
    return ThresholdChoice(None, reason, rows)


def maturity(
    outcomes: int,
    successes: int,
    days_since_use: float | None,
    *,
    min_outcomes: int = 10,
    proven_rate: float = 0.7,
    stale_days: int = 30,
) -> str:
    """young / proven / unreliable / stale (see MATURITY_RULES)."""
    if days_since_use is not None and days_since_use >= stale_days:
        return STALE
    if outcomes < min_outcomes:
        return YOUNG
    lower, _ = stats.wilson_interval(successes, outcomes)
    return PROVEN if lower >= proven_rate else UNRELIABLE
