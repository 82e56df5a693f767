"""Fix variants (A/B): which variant a failure gets, when a winner is declared, and how the winner
is rolled out (10% → 50% → 100%) or rolled back. Pure: the caller stores the counts and the state.

Exploring: every variant competes, by Thompson sampling (or fixed shares). A winner is declared
only when a test says so: the best arm against every other one, at looks taken when every arm has
m, 2m, 4m, ... trials, by Fisher's exact test or the two-proportion z-test (p < alpha, split
between the looks and the comparisons) or the Bayesian probability to beat (≥ `probability`).

Rolling out: the winner gets the step's share of the traffic and the champion (the variant in use
before) the rest. A step is held until the winner has `min_outcomes` outcomes in it; a step whose
success rate is significantly below the champion's (one-sided, same method) is rolled back.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import stats

THOMPSON = "thompson"
FIXED = "fixed"
ALLOCATIONS = (THOMPSON, FIXED)

FISHER = "fisher"
Z_TEST = "z_test"
BAYES = "bayes"
METHODS = (FISHER, Z_TEST, BAYES)

ROLLOUT_STEPS = (10, 50, 100)
ALPHA = 0.05
PROBABILITY_TO_BEAT = 0.95
MAX_LOOKS = 4
# While an arm is short of the minimum sample, this share of the traffic goes to such arms
# uniformly: Thompson sampling alone starves a losing arm, and the test could never conclude.
EXPLORATION_SHARE = 0.2
# Above this many trials in a comparison Fisher's exact sums get slow; the normal approximation
# is excellent there, so the z-test answers instead.
FISHER_MAX_TRIALS = 2000
SHARES_TOLERANCE = 1e-6

HOLD = "hold"
ADVANCE = "advance"
COMPLETE = "complete"
ROLL_BACK = "roll_back"


@dataclass(frozen=True)
class Arm:
    label: str
    successes: int
    trials: int

    def __post_init__(self) -> None:
        if not 0 <= self.successes <= self.trials:
            raise ValueError(f"arm {self.label}: successes must be between 0 and the trials")

    @property
    def failures(self) -> int:
        return self.trials - self.successes

    @property
    def rate(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of the success rate (None before the first outcome)."""
        return stats.wilson_interval(self.successes, self.trials) if self.trials else None

    def describe(self) -> str:
        if not self.trials:
            return f"{self.label}: no outcomes"
        return f"{self.label}: {self.successes}/{self.trials} ({self.rate:.0%})"


# --- Assignment ---------------------------------------------------------------------------------


def check_shares(labels: Sequence[str], shares: Mapping[str, float]) -> None:
    """Fixed shares: one per variant, each in [0, 1], summing to 1. Raises ValueError saying why."""
    if set(shares) != set(labels):
        raise ValueError(
            f"fixed shares need one share per variant ({', '.join(labels)}); "
            f"got shares for {', '.join(sorted(shares)) or 'none'}"
        )
    if any(not 0.0 <= share <= 1.0 for share in shares.values()):
        raise ValueError("every share must be between 0 and 1")
    total = math.fsum(shares.values())
    if abs(total - 1.0) > SHARES_TOLERANCE:
        raise ValueError(f"the shares must sum to 1, not {total:g}")


def _weighted(shares: Mapping[str, float], rng: random.Random) -> str:
    labels = [label for label, share in shares.items() if share > 0]
    if not labels:
        raise ValueError("no variant has a share of the traffic")
    return rng.choices(labels, weights=[shares[label] for label in labels])[0]


def choose_variant(
    arms: Sequence[Arm],
    rng: random.Random,
    *,
    allocation: str = THOMPSON,
    shares: Mapping[str, float] | None = None,
    min_trials: int = 0,
) -> str:
    """The variant for the next eligible failure while the variants compete. Arms short of
    `min_trials` (the next look's sample) share EXPLORATION_SHARE of the Thompson traffic."""
    if not arms:
        raise ValueError("there is no variant to choose from")
    if allocation == FIXED:
        if shares is None:
            raise ValueError("fixed allocation needs shares")
        eligible = {arm.label: shares.get(arm.label, 0.0) for arm in arms}
        return _weighted(eligible, rng)
    if allocation != THOMPSON:
        raise ValueError(f"unknown allocation {allocation!r}")
    short = [arm.label for arm in arms if arm.trials < min_trials]
    if short and rng.random() < EXPLORATION_SHARE:
        return rng.choice(short)
    return stats.thompson_choice({arm.label: (arm.successes, arm.failures) for arm in arms}, rng)


def rollout_choice(winner: str, champion: str, percent: int, rng: random.Random) -> str:
    """During a rollout step, the winner gets `percent`% of the traffic and the champion the rest."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return winner if rng.random() * 100 < percent else champion


def next_step(percent: int) -> int | None:
    """The rollout step after `percent` (0 while exploring); None after the last one."""
    later = [step for step in ROLLOUT_STEPS if step > percent]
    return later[0] if later else None


# --- Significance -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Is `better` better than `worse`? `significant` under the method's own bar."""

    method: str
    p_value: float | None  # the frequentist tests
    probability: float | None  # the Bayesian probability that `better` beats `worse`
    significant: bool

    def describe(self) -> str:
        if self.method == BAYES:
            return f"probability to beat {self.probability:.1%}"
        name = "Fisher's exact test" if self.method == FISHER else "two-proportion z-test"
        return f"{name} p = {self.p_value:.4f}"


def compare(
    better: Arm,
    worse: Arm,
    method: str,
    *,
    two_sided: bool,
    alpha: float = ALPHA,
    probability: float = PROBABILITY_TO_BEAT,
) -> Comparison:
    """Whether `better`'s success rate is significantly higher than `worse`'s. Two-sided for a
    winner among equals (either could have won), one-sided for a regression against a champion."""
    if better.trials == 0 or worse.trials == 0:
        return Comparison(method, None, None, False)
    if method == BAYES:
        chance = stats.probability_to_beat(
            worse.successes, worse.failures, better.successes, better.failures
        )
        return Comparison(method, None, chance, chance >= probability)
    if method == FISHER and better.trials + worse.trials <= FISHER_MAX_TRIALS:
        result = stats.fisher_exact(
            better.successes,
            better.failures,
            worse.successes,
            worse.failures,
            alternative="two-sided" if two_sided else "greater",
        )
        p_value = result.p_value
    elif method in (FISHER, Z_TEST):
        result = stats.two_proportion_z_test(
            worse.successes, worse.trials, better.successes, better.trials
        )
        p_value = result.p_value if two_sided else stats.normal_cdf(-result.statistic)
        method = Z_TEST
    else:
        raise ValueError(f"unknown method {method!r}")
    higher = (better.rate or 0.0) > (worse.rate or 0.0)
    return Comparison(method, p_value, None, higher and p_value < alpha)


def look_sizes(min_trials: int, max_looks: int = MAX_LOOKS) -> tuple[int, ...]:
    """The per-arm sample sizes at which the winner test is looked at: m, 2m, 4m, ..."""
    if min_trials < 1 or max_looks < 1:
        raise ValueError("min_trials and max_looks must be >= 1")
    return tuple(min_trials * 2**k for k in range(max_looks))


def looks_reached(arms: Sequence[Arm], min_trials: int, max_looks: int = MAX_LOOKS) -> int:
    """How many look sizes the smallest arm has reached."""
    smallest = min(arm.trials for arm in arms)
    return sum(1 for size in look_sizes(min_trials, max_looks) if smallest >= size)


def next_look_size(looks_done: int, min_trials: int, max_looks: int = MAX_LOOKS) -> int:
    """The per-arm sample the next look needs (the last one once every look is spent)."""
    sizes = look_sizes(min_trials, max_looks)
    return sizes[min(looks_done, len(sizes) - 1)]


@dataclass(frozen=True)
class WinnerDecision:
    winner: str | None
    reason: str
    look: int  # looks spent after this decision (the caller stores it)
    final: bool = False  # no winner and no look left: the champion stays
    comparisons: tuple[tuple[str, Comparison], ...] = ()  # (other arm, best vs other)


def decide_winner(
    arms: Sequence[Arm],
    method: str = FISHER,
    *,
    min_trials: int = 30,
    looks_done: int = 0,
    max_looks: int = MAX_LOOKS,
    alpha: float = ALPHA,
    probability: float = PROBABILITY_TO_BEAT,
) -> WinnerDecision:
    """The best arm, if it beats every other arm significantly at a look.

    The test is looked at only when the smallest arm reaches the next look size (m, 2m, 4m, ...),
    at most `max_looks` times, and alpha is split between the looks and the comparisons
    (Bonferroni): peeking after every outcome at p < 0.05 would declare a false winner between
    equal variants about one time in four; this keeps it under alpha overall.
    """
    if len(arms) < 2:
        raise ValueError("a winner needs at least two variants")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    reached = looks_reached(arms, min_trials, max_looks)
    if reached <= looks_done:
        size = next_look_size(looks_done, min_trials, max_looks)
        short = [arm for arm in arms if arm.trials < size]
        return WinnerDecision(
            None,
            f"look {looks_done + 1} of {max_looks} waits for {size} outcomes per variant ("
            + ", ".join(f"{arm.label} has {arm.trials}" for arm in short)
            + ")",
            looks_done,
        )
    ranked = sorted(arms, key=lambda arm: arm.rate or 0.0, reverse=True)
    best = ranked[0]
    corrected = alpha / max_looks / (len(arms) - 1)
    comparisons = tuple(
        (other.label, compare(best, other, method, two_sided=True, alpha=corrected,
                              probability=probability))
        for other in ranked[1:]
    )  # fmt: skip
    bar = f"p < {corrected:.3g}" if method != BAYES else f"probability to beat ≥ {probability:.0%}"
    details = "; ".join(
        f"{best.label} vs {other}: {comparison.describe()}" for other, comparison in comparisons
    )
    arms_text = ", ".join(arm.describe() for arm in ranked)
    look = f"look {reached} of {max_looks}"
    if best.rate != ranked[1].rate and all(c.significant for _, c in comparisons):
        return WinnerDecision(
            best.label, f"{best.label} wins at {look} ({arms_text}; {details}; {bar})",
            reached, False, comparisons,
        )  # fmt: skip
    final = reached >= max_looks
    verdict = "no significant difference after the last look" if final else "not significant yet"
    return WinnerDecision(
        None, f"{verdict} at {look} ({arms_text}; {details}; needs {bar})", reached, final,
        comparisons,
    )  # fmt: skip


# --- Rollout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepVerdict:
    action: str  # HOLD | ADVANCE | COMPLETE | ROLL_BACK
    reason: str
    comparison: Comparison | None = None


def judge_step(
    percent: int,
    step: Arm,
    champion: Arm,
    method: str = FISHER,
    *,
    min_outcomes: int = 20,
    alpha: float = ALPHA,
    probability: float = PROBABILITY_TO_BEAT,
) -> StepVerdict:
    """The winner's outcomes in the rollout step at `percent`% against the champion's outcomes
    (all of them in the experiment): roll back a significant regression, else hold the step until
    it has `min_outcomes`, then advance (or complete after 100%)."""
    if percent not in ROLLOUT_STEPS:
        raise ValueError(f"{percent}% is not a rollout step {ROLLOUT_STEPS}")
    regression = compare(champion, step, method, two_sided=False, alpha=alpha,
                         probability=probability)  # fmt: skip
    where = f"{step.describe()} in the {percent}% step vs champion {champion.describe()}"
    if regression.significant:
        return StepVerdict(
            ROLL_BACK,
            f"{step.label} regressed: {where}; {regression.describe()} (one-sided)",
            regression,
        )
    if step.trials < min_outcomes:
        return StepVerdict(
            HOLD,
            f"holding the {percent}% step: {step.trials} of {min_outcomes} outcomes",
            regression,
        )
    following = next_step(percent)
    if following is None:
        return StepVerdict(COMPLETE, f"{step.label} holds at 100%: {where}", regression)
    return StepVerdict(ADVANCE, f"{step.label} holds: {where}; on to {following}%", regression)
