"""The statistics selfheal earns its confidence with: Beta posteriors, Thompson sampling, tests of
two proportions, and calibration (Brier score, reliability bins, expected calibration error).

Pure Python (no scipy): the regularised incomplete beta function by its continued fraction, the
normal distribution through `math.erf`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

UNIFORM_PRIOR = (1.0, 1.0)


# --- Beta posterior ------------------------------------------------------------------------------


def beta_posterior(
    successes: int, failures: int, prior: tuple[float, float] = UNIFORM_PRIOR
) -> tuple[float, float]:
    """The posterior (alpha, beta) after `successes` and `failures` from a Beta `prior`."""
    if successes < 0 or failures < 0:
        raise ValueError("successes and failures must be >= 0")
    return prior[0] + successes, prior[1] + failures


def beta_mean(successes: int, failures: int, prior: tuple[float, float] = UNIFORM_PRIOR) -> float:
    """Posterior mean; with the uniform prior this is Laplace's rule, (s + 1) / (n + 2)."""
    alpha, beta = beta_posterior(successes, failures, prior)
    return alpha / (alpha + beta)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Lentz's algorithm for the continued fraction of the incomplete beta function."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """P(X <= x) for X ~ Beta(a, b): the regularised incomplete beta function I_x(a, b)."""
    if a <= 0 or b <= 0:
        raise ValueError("Beta parameters must be > 0")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b))
    # The continued fraction converges fast for x < (a + 1) / (a + b + 2); use symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def beta_quantile(p: float, a: float, b: float) -> float:
    """The x with beta_cdf(x, a, b) == p, by bisection (the CDF is monotone; 60 steps ~ 1e-18)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError("p must be in [0, 1]")
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if beta_cdf(mid, a, b) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def beta_credible_interval(
    successes: int,
    failures: int,
    level: float = 0.95,
    prior: tuple[float, float] = UNIFORM_PRIOR,
) -> tuple[float, float]:
    """The equal-tailed credible interval of the posterior success rate."""
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    alpha, beta = beta_posterior(successes, failures, prior)
    tail = (1.0 - level) / 2
    return beta_quantile(tail, alpha, beta), beta_quantile(1.0 - tail, alpha, beta)


def probability_to_beat(
    successes_a: int,
    failures_a: int,
    successes_b: int,
    failures_b: int,
    prior: tuple[float, float] = UNIFORM_PRIOR,
) -> float:
    """P(rate_B > rate_A) under independent Beta posteriors, exactly (Evan Miller's closed form,
    which needs B's posterior alpha to be a whole number: true with integer counts and prior)."""
    alpha_a, beta_a = beta_posterior(successes_a, failures_a, prior)
    alpha_b, beta_b = beta_posterior(successes_b, failures_b, prior)
    if alpha_b != int(alpha_b):
        raise ValueError("the closed form needs a whole-number alpha for B")
    total = 0.0
    for i in range(int(alpha_b)):
        total += math.exp(
            _log_beta(alpha_a + i, beta_a + beta_b)
            - math.log(beta_b + i)
            - _log_beta(1 + i, beta_b)
            - _log_beta(alpha_a, beta_a)
        )
    return min(1.0, max(0.0, total))


def thompson_choice(
    arms: Mapping[str, tuple[int, int]],
    rng: random.Random | None = None,
    prior: tuple[float, float] = UNIFORM_PRIOR,
) -> str:
    """Pick an arm by Thompson sampling: draw each arm's rate from its Beta posterior, keep the best.

    `arms` maps a name to its (successes, failures).
    """
    if not arms:
        raise ValueError("Thompson sampling needs at least one arm")
    rng = rng or random.Random()
    best_name, best_draw = "", -1.0
    for name, (successes, failures) in arms.items():
        draw = rng.betavariate(*beta_posterior(successes, failures, prior))
        if draw > best_draw:
            best_name, best_draw = name, draw
    return best_name


# --- Normal distribution and tests of two proportions -------------------------------------------


def normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    """Inverse of normal_cdf, by bisection on [-40, 40]."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    lo, hi = -40.0, 40.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if normal_cdf(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class SignificanceResult:
    statistic: float  # z for the z-test, the odds ratio for Fisher's test
    p_value: float


def two_proportion_z_test(
    successes_a: int, n_a: int, successes_b: int, n_b: int
) -> SignificanceResult:
    """Two-sided z-test of p_a == p_b with the pooled standard error; z > 0 when B is higher."""
    if n_a <= 0 or n_b <= 0:
        raise ValueError("both samples need at least one trial")
    if not (0 <= successes_a <= n_a and 0 <= successes_b <= n_b):
        raise ValueError("successes must be between 0 and the number of trials")
    p_a, p_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return SignificanceResult(0.0, 1.0)
    z = (p_b - p_a) / se
    return SignificanceResult(z, min(1.0, 2 * normal_cdf(-abs(z))))


def fisher_exact(
    a: int, b: int, c: int, d: int, alternative: str = "two-sided"
) -> SignificanceResult:
    """Fisher's exact test on the 2x2 table [[a, b], [c, d]] (rows: groups; columns: success,
    failure). Two-sided p sums every table at most as probable as the observed one; "greater" is
    the one-sided test that `a` is large (group 1 has the higher odds)."""
    if min(a, b, c, d) < 0:
        raise ValueError("table cells must be >= 0")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError("alternative is two-sided, greater or less")
    row1, col1, n = a + b, a + c, a + b + c + d
    low, high = max(0, col1 - (n - row1)), min(row1, col1)
    denominator = math.comb(n, col1)

    def probability(x: int) -> float:
        return math.comb(row1, x) * math.comb(n - row1, col1 - x) / denominator

    observed = probability(a)
    if alternative == "greater":
        p = sum(probability(x) for x in range(a, high + 1))
    elif alternative == "less":
        p = sum(probability(x) for x in range(low, a + 1))
    else:
        # A relative tolerance keeps tables of equal probability from dropping out by rounding.
        p = sum(
            prob
            for prob in (probability(x) for x in range(low, high + 1))
            if prob <= observed * (1 + 1e-7)
        )
    odds_ratio = (a * d / (b * c)) if b * c else math.inf if a * d else math.nan
    return SignificanceResult(odds_ratio, min(1.0, p))


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (good at small n and near 0 or 1)."""
    if n <= 0:
        return 0.0, 1.0
    z = normal_quantile(1 - (1 - level) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# --- Calibration ---------------------------------------------------------------------------------


def _check_forecasts(probabilities: Sequence[float], outcomes: Sequence[bool | int]) -> None:
    if len(probabilities) != len(outcomes):
        raise ValueError("probabilities and outcomes must have the same length")
    if any(not 0.0 <= p <= 1.0 for p in probabilities):
        raise ValueError("probabilities must be in [0, 1]")


def brier_score(probabilities: Sequence[float], outcomes: Sequence[bool | int]) -> float:
    """Mean squared difference between forecast probability and outcome (0 is perfect)."""
    _check_forecasts(probabilities, outcomes)
    if not probabilities:
        raise ValueError("the Brier score needs at least one forecast")
    return sum((p - float(o)) ** 2 for p, o in zip(probabilities, outcomes, strict=True)) / len(
        probabilities
    )


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    mean_confidence: float  # 0 when the bin is empty
    accuracy: float  # observed success rate; 0 when the bin is empty


def reliability_bins(
    probabilities: Sequence[float], outcomes: Sequence[bool | int], n_bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; a probability of exactly 1.0 falls in the last bin."""
    _check_forecasts(probabilities, outcomes)
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    grouped: list[list[tuple[float, float]]] = [[] for _ in range(n_bins)]
    for p, o in zip(probabilities, outcomes, strict=True):
        grouped[min(int(p * n_bins), n_bins - 1)].append((p, float(o)))
    bins = []
    for i, members in enumerate(grouped):
        count = len(members)
        bins.append(
            ReliabilityBin(
                lower=i / n_bins,
                upper=(i + 1) / n_bins,
                count=count,
                mean_confidence=sum(p for p, _ in members) / count if count else 0.0,
                accuracy=sum(o for _, o in members) / count if count else 0.0,
            )
        )
    return bins


def expected_calibration_error(
    probabilities: Sequence[float], outcomes: Sequence[bool | int], n_bins: int = 10
) -> float:
    """Count-weighted mean |accuracy - confidence| over the reliability bins."""
    bins = reliability_bins(probabilities, outcomes, n_bins)
    total = sum(b.count for b in bins)
    if total == 0:
        raise ValueError("the calibration error needs at least one forecast")
    return sum(b.count * abs(b.accuracy - b.mean_confidence) for b in bins) / total
