"""Known values: closed forms, hand computations and published examples (no scipy here)."""

import math
import random

import pytest

from selfheal.engine import stats


def simpson(f, a, b, n=2000):
    h = (b - a) / n
    total = f(a) + f(b)
    for i in range(1, n):
        total += (4 if i % 2 else 2) * f(a + i * h)
    return total * h / 3


def beta_pdf(x, a, b):
    return math.exp(
        (a - 1) * math.log(x)
        + (b - 1) * math.log(1 - x)
        - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    )


def test_beta_mean_is_laplaces_rule_with_the_uniform_prior():
    assert stats.beta_mean(0, 0) == 0.5
    assert stats.beta_mean(3, 1) == pytest.approx(4 / 6)
    assert stats.beta_mean(98, 0) == pytest.approx(99 / 100)
    assert stats.beta_mean(2, 2, prior=(2, 8)) == pytest.approx(4 / 14)


def test_beta_mean_rejects_negative_counts():
    with pytest.raises(ValueError):
        stats.beta_mean(-1, 2)


@pytest.mark.parametrize(
    ("x", "a", "b", "expected"),
    [
        (0.5, 3, 1, 0.125),  # Beta(a, 1): x**a
        (0.2, 1, 4, 1 - 0.8**4),  # Beta(1, b): 1 - (1 - x)**b
        (0.3, 2, 2, 3 * 0.3**2 - 2 * 0.3**3),  # Beta(2, 2): 3x² - 2x³
        (0.5, 7.5, 7.5, 0.5),  # symmetric
        (0.9, 1, 1, 0.9),  # uniform
    ],
)
def test_beta_cdf_closed_forms(x, a, b, expected):
    assert stats.beta_cdf(x, a, b) == pytest.approx(expected, abs=1e-12)


def test_beta_cdf_matches_numerical_integration_of_the_density():
    for a, b, x in [(10, 20, 0.3), (2.5, 7, 0.6), (50, 3, 0.9), (3, 9, 0.05)]:
        integral = simpson(lambda t, a=a, b=b: beta_pdf(t, a, b), 1e-12, x)
        assert stats.beta_cdf(x, a, b) == pytest.approx(integral, abs=1e-7)


def test_beta_quantile_inverts_the_cdf():
    assert stats.beta_quantile(0.5, 2, 1) == pytest.approx(math.sqrt(0.5), abs=1e-12)
    for p in (0.01, 0.3, 0.975):
        x = stats.beta_quantile(p, 9, 3)
        assert stats.beta_cdf(x, 9, 3) == pytest.approx(p, abs=1e-10)


def test_credible_interval_of_no_data_is_the_central_95_percent_of_uniform():
    low, high = stats.beta_credible_interval(0, 0)
    assert (low, high) == (pytest.approx(0.025), pytest.approx(0.975))


def test_credible_interval_narrows_and_follows_the_data():
    few = stats.beta_credible_interval(8, 2)
    many = stats.beta_credible_interval(80, 20)
    assert few[0] < 0.8 < few[1]
    assert many[0] < 0.8 < many[1]
    assert many[1] - many[0] < few[1] - few[0]
    # Beta(9, 3): the tails each hold 2.5% of the density.
    assert simpson(lambda t: beta_pdf(t, 9, 3), 1e-12, few[0]) == pytest.approx(0.025, abs=1e-6)


def test_probability_to_beat_known_values():
    # Uniform A against Beta(2, 1) B: P = integral of x * 2x over [0, 1] = 2/3.
    assert stats.probability_to_beat(0, 0, 1, 0) == pytest.approx(2 / 3)
    assert stats.probability_to_beat(5, 5, 5, 5) == pytest.approx(0.5)
    assert stats.probability_to_beat(60, 40, 80, 20) > 0.99
    assert stats.probability_to_beat(80, 20, 60, 40) < 0.01


def test_probability_to_beat_agrees_with_monte_carlo():
    rng = random.Random(7)
    draws = 40_000
    wins = sum(rng.betavariate(13, 9) < rng.betavariate(17, 6) for _ in range(draws))
    assert stats.probability_to_beat(12, 8, 16, 5) == pytest.approx(wins / draws, abs=0.01)


def test_thompson_sampling_prefers_the_better_arm_but_still_explores():
    rng = random.Random(42)
    picks = [stats.thompson_choice({"a": (6, 4), "b": (8, 2)}, rng) for _ in range(2000)]
    share_b = picks.count("b") / len(picks)
    assert 0.6 < share_b < 0.95
    certain = [stats.thompson_choice({"a": (10, 90), "b": (90, 10)}, rng) for _ in range(200)]
    assert certain.count("b") == 200


def test_thompson_sampling_needs_arms():
    with pytest.raises(ValueError):
        stats.thompson_choice({})


def test_two_proportion_z_test_hand_computed():
    # 45/100 vs 60/100: pooled 0.525, SE = sqrt(0.525 * 0.475 * 0.02) = 0.070622, z = 2.1240.
    result = stats.two_proportion_z_test(45, 100, 60, 100)
    assert result.statistic == pytest.approx(2.1240, abs=1e-4)
    assert result.p_value == pytest.approx(0.03367, abs=1e-4)
    assert stats.two_proportion_z_test(60, 100, 45, 100).statistic == pytest.approx(
        -2.1240, abs=1e-4
    )
    assert stats.two_proportion_z_test(5, 10, 5, 10).p_value == pytest.approx(1.0)


def test_normal_quantile_known_values():
    assert stats.normal_quantile(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert stats.normal_cdf(1.644854) == pytest.approx(0.95, abs=1e-6)


def test_fisher_exact_lady_tasting_tea():
    # 3 of 4 milk-first cups named right: P(X = k) = C(4,k)² / 70.
    assert stats.fisher_exact(3, 1, 1, 3).p_value == pytest.approx(34 / 70)
    assert stats.fisher_exact(3, 1, 1, 3, alternative="greater").p_value == pytest.approx(17 / 70)
    assert stats.fisher_exact(3, 1, 1, 3, alternative="less").p_value == pytest.approx(69 / 70)
    assert stats.fisher_exact(3, 1, 1, 3).statistic == pytest.approx(9.0)


def test_fisher_exact_published_example():
    # Wikipedia's dieting example: [[1, 9], [11, 3]], two-sided p = 0.002759.
    assert stats.fisher_exact(1, 9, 11, 3).p_value == pytest.approx(0.002759, abs=1e-6)


def test_wilson_interval_known_value():
    # 8 of 10 at 95%: (0.4902, 0.9433).
    low, high = stats.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_brier_score():
    assert stats.brier_score([0.9, 0.1], [1, 0]) == pytest.approx(0.01)
    assert stats.brier_score([1.0, 0.0], [0, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        stats.brier_score([0.5], [1, 0])


def test_reliability_bins_and_calibration_error():
    probabilities = [0.85] * 10 + [0.25] * 4
    outcomes = [1] * 5 + [0] * 5 + [1] + [0] * 3
    bins = stats.reliability_bins(probabilities, outcomes, n_bins=10)
    assert len(bins) == 10
    assert bins[8].count == 10 and bins[8].accuracy == pytest.approx(0.5)
    assert bins[2].count == 4 and bins[2].accuracy == pytest.approx(0.25)
    # |0.5 - 0.85| weighted 10/14, |0.25 - 0.25| weighted 4/14.
    assert stats.expected_calibration_error(probabilities, outcomes) == pytest.approx(
        0.35 * 10 / 14
    )
    assert stats.reliability_bins([1.0], [1])[-1].count == 1


def test_perfectly_calibrated_forecasts_have_no_calibration_error():
    probabilities = [0.8] * 10 + [0.3] * 10
    outcomes = [1] * 8 + [0] * 2 + [1] * 3 + [0] * 7
    assert stats.expected_calibration_error(probabilities, outcomes) == pytest.approx(0.0)
