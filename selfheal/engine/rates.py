"""Comparing two event rates: the exact conditional (binomial) test for a Poisson rate ratio.

Given `x1` events in exposure `t1` and `x0` events in exposure `t0`, and conditioning on the total
`n = x1 + x0`, under the null hypothesis of equal rates `x1 ~ Binomial(n, t1 / (t0 + t1))`. The
p-value is a binomial tail, computed through the regularised incomplete beta function so it stays
accurate for tiny tails and large counts. Pure Python, no dependencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .stats import beta_cdf

Alternative = Literal["greater", "less", "two-sided"]


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), for a, b > 0 and 0 <= x <= 1 (stats.beta_cdf, with the domain enforced)."""
    if a <= 0 or b <= 0:
        raise ValueError("a and b must be positive")
    if not 0.0 <= x <= 1.0:
        raise ValueError("x must be within [0, 1]")
    return beta_cdf(x, a, b)


def _check_binomial(k: int, n: int, p: float) -> None:
    if n < 0 or k < 0:
        raise ValueError("counts must be non-negative")
    if not 0.0 <= p <= 1.0:
        raise ValueError("p must be within [0, 1]")


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    _check_binomial(k, n, p)
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return min(1.0, max(0.0, regularized_beta(p, k, n - k + 1)))


def binomial_lower_tail(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    _check_binomial(k, n, p)
    if k >= n:
        return 1.0
    return min(1.0, max(0.0, regularized_beta(1.0 - p, n - k, k + 1)))


@dataclass(frozen=True)
class RateComparison:
    count_after: int
    exposure_after: float
    count_before: int
    exposure_before: float
    rate_ratio: float  # after / before; inf when nothing happened before and something after
    p_value: float

    @property
    def rate_after(self) -> float:
        return self.count_after / self.exposure_after

    @property
    def rate_before(self) -> float:
        return self.count_before / self.exposure_before


def poisson_rate_ratio_test(
    count_after: int,
    exposure_after: float,
    count_before: int,
    exposure_before: float,
    alternative: Alternative = "greater",
) -> RateComparison:
    """Exact conditional test of H0: rate_after == rate_before.

    `alternative="greater"` asks whether the rate went up (the deploy-health question).
    """
    if count_after < 0 or count_before < 0:
        raise ValueError("counts must be non-negative")
    if exposure_after <= 0 or exposure_before <= 0:
        raise ValueError("exposures must be positive")
    n = count_after + count_before
    share_after = exposure_after / (exposure_after + exposure_before)
    upper = binomial_upper_tail(count_after, n, share_after)
    lower = binomial_lower_tail(count_after, n, share_after)
    if alternative == "greater":
        p_value = upper
    elif alternative == "less":
        p_value = lower
    elif alternative == "two-sided":
        p_value = min(1.0, 2.0 * min(upper, lower))
    else:
        raise ValueError(f"unknown alternative {alternative!r}")
    rate_after, rate_before = count_after / exposure_after, count_before / exposure_before
    if rate_before > 0:
        ratio = rate_after / rate_before
    else:
        ratio = math.inf if rate_after > 0 else 1.0
    return RateComparison(
        count_after, exposure_after, count_before, exposure_before, ratio, p_value
    )


Verdict = Literal["bad", "suspect", "normal"]


def judge_rate_increase(
    comparison: RateComparison,
    *,
    bad_p: float = 0.01,
    suspect_p: float = 0.05,
    min_ratio: float = 2.0,
    min_events: int = 5,
) -> Verdict:
    """Bad: a significant increase of at least `min_ratio`, on at least `min_events` events after.

    Suspect: significant at the looser level, or strong but not yet meeting the size bars.
    """
    if comparison.p_value < bad_p and comparison.rate_ratio >= min_ratio:
        if comparison.count_after >= min_events:
            return "bad"
        return "suspect"
    if comparison.p_value < suspect_p and comparison.rate_ratio > 1.0:
        return "suspect"
    return "normal"
