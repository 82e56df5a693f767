"""The Poisson rate-ratio test against exact rational arithmetic and known textbook answers."""

import math
from fractions import Fraction

import pytest

from selfheal.engine.rates import (
    RateComparison,
    binomial_lower_tail,
    binomial_upper_tail,
    judge_rate_increase,
    poisson_rate_ratio_test,
    regularized_beta,
)


def exact_upper_tail(k: int, n: int, p: Fraction) -> Fraction:
    return sum((math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)), Fraction(0))


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 5, "1/2"), (3, 5, "1/2"), (5, 5, "1/2"), (7, 20, "1/7"), (1, 1, "1/3"), (30, 40, "1/4"),
     (12, 100, "1/10"), (60, 200, "1/3")],
)  # fmt: skip
def test_binomial_tails_match_exact_sums(k, n, p):
    p = Fraction(p)
    upper = exact_upper_tail(k, n, p)
    assert binomial_upper_tail(k, n, float(p)) == pytest.approx(float(upper), rel=1e-9, abs=1e-300)
    lower = 1 - exact_upper_tail(k + 1, n, p)
    assert binomial_lower_tail(k, n, float(p)) == pytest.approx(float(lower), rel=1e-9)


def test_tiny_tails_keep_their_precision():
    # P(X >= 50 | n=50, p=0.1) = 1e-50: a naive 1 - cdf would give 0.
    assert binomial_upper_tail(50, 50, 0.1) == pytest.approx(1e-50, rel=1e-9)


def test_regularized_beta_edges_and_symmetry():
    assert regularized_beta(0.0, 2, 3) == 0.0
    assert regularized_beta(1.0, 2, 3) == 1.0
    assert regularized_beta(0.3, 2.5, 4) == pytest.approx(1 - regularized_beta(0.7, 4, 2.5))
    # I_x(1, 1) is the uniform CDF.
    assert regularized_beta(0.42, 1, 1) == pytest.approx(0.42)
    with pytest.raises(ValueError):
        regularized_beta(1.5, 1, 1)


def test_equal_rates_are_not_significant():
    result = poisson_rate_ratio_test(10, 60.0, 10, 60.0)
    assert result.rate_ratio == pytest.approx(1.0)
    assert result.p_value > 0.4
    assert judge_rate_increase(result) == "normal"


def test_a_burst_after_a_deploy_is_bad():
    # 2 errors in the hour before, 40 in the 30 minutes after.
    result = poisson_rate_ratio_test(40, 30.0, 2, 60.0)
    assert result.rate_ratio == pytest.approx(40.0)
    assert result.p_value < 1e-10
    assert judge_rate_increase(result) == "bad"


def test_exposure_is_taken_into_account():
    # The same 10 vs 10 events, but the after-window is a sixth of the before-window: a 6x rate.
    result = poisson_rate_ratio_test(10, 10.0, 10, 60.0)
    assert result.rate_ratio == pytest.approx(6.0)
    assert result.p_value < 0.001


def test_p_value_matches_the_conditional_binomial_exactly():
    result = poisson_rate_ratio_test(7, 1.0, 2, 2.0)
    expected = exact_upper_tail(7, 9, Fraction(1, 3))
    assert result.p_value == pytest.approx(float(expected), rel=1e-9)


def test_two_sided_and_less():
    drop = poisson_rate_ratio_test(1, 60.0, 30, 60.0, alternative="less")
    assert drop.p_value < 1e-6
    rise = poisson_rate_ratio_test(1, 60.0, 30, 60.0, alternative="greater")
    assert rise.p_value > 0.99
    two = poisson_rate_ratio_test(1, 60.0, 30, 60.0, alternative="two-sided")
    assert two.p_value == pytest.approx(2 * drop.p_value)


def test_nothing_before_something_after():
    result = poisson_rate_ratio_test(12, 10.0, 0, 60.0)
    assert math.isinf(result.rate_ratio)
    assert result.p_value == pytest.approx((1 / 7) ** 12)
    assert judge_rate_increase(result) == "bad"


def test_few_events_are_only_suspect():
    # Significant and large, but only 3 events after: not enough to roll back on.
    comparison = RateComparison(3, 1.0, 0, 100.0, math.inf, 1e-6)
    assert judge_rate_increase(comparison) == "suspect"


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        poisson_rate_ratio_test(-1, 1.0, 0, 1.0)
    with pytest.raises(ValueError):
        poisson_rate_ratio_test(1, 0.0, 0, 1.0)
    with pytest.raises(ValueError):
        poisson_rate_ratio_test(1, 1.0, 0, 1.0, alternative="sideways")
