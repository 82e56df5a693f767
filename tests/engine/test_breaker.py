import random

import pytest

from selfheal.engine import breaker
from selfheal.engine.breaker import CLOSED, HALF_OPEN, OPEN, BreakerConfig, BreakerState

CONFIG = BreakerConfig(window_seconds=60, min_calls=5, failure_rate_threshold=0.5,
                       trend_delta=0.4, cool_down_seconds=10, max_cool_down_seconds=40)  # fmt: skip


def feed(state, outcomes, start=0.0, step=1.0):
    transitions = []
    for i, ok in enumerate(outcomes):
        state, moved = breaker.record(state, CONFIG, start + i * step, ok)
        if moved:
            transitions.append(moved)
    return state, transitions


def test_stays_closed_below_the_minimum_number_of_calls():
    state, transitions = feed(BreakerState(), [False] * 4)
    assert state.state == CLOSED
    assert transitions == []


def test_opens_when_the_failure_rate_reaches_the_limit():
    state, transitions = feed(BreakerState(), [True, True, False, False, False])
    assert state.state == OPEN
    assert transitions[0].to_state == OPEN
    assert "failure rate 60%" in transitions[0].reason
    assert state.next_probe_at == pytest.approx(4.0 + 10)


def test_opens_on_a_rising_failure_trend_below_the_rate_limit():
    outcomes = [True] * 5 + [True, True, False, False, False]  # 30% overall, 0% -> 60%
    state, transitions = feed(BreakerState(), outcomes)
    assert state.state == OPEN
    assert "failures rising" in transitions[0].reason


def test_scattered_failures_do_not_open_it():
    outcomes = [True, False, True, True, False, True, True, True, False, True, True, True]
    state, transitions = feed(BreakerState(), outcomes)
    assert state.state == CLOSED and transitions == []


def test_old_failures_leave_the_window():
    state, _ = feed(BreakerState(), [False] * 4, start=0)
    state, transitions = feed(state, [False], start=100)  # the four are 100 s old, window is 60 s
    assert state.state == CLOSED
    assert len(state.events) == 1


def test_refuses_while_open_then_lets_exactly_one_probe_through():
    state, _ = feed(BreakerState(), [False] * 5)
    assert not breaker.admit(state, CONFIG, now=5.0).allowed
    admission = breaker.admit(state, CONFIG, now=14.5)
    assert admission.allowed and admission.is_probe
    assert admission.state.state == HALF_OPEN
    assert admission.transitions[0].to_state == HALF_OPEN
    second = breaker.admit(admission.state, CONFIG, now=14.6)
    assert not second.allowed and second.reason == "half_open"


def test_probe_success_closes_and_failure_reopens_with_a_longer_cool_down():
    state, _ = feed(BreakerState(), [False] * 5)
    probe = breaker.admit(state, CONFIG, now=20.0)
    reopened, moved = breaker.record(probe.state, CONFIG, 20.5, False, is_probe=True)
    assert reopened.state == OPEN and moved.to_state == OPEN
    assert reopened.next_probe_at == pytest.approx(20.5 + 20)  # doubled
    probe = breaker.admit(reopened, CONFIG, now=41.0)
    closed, moved = breaker.record(probe.state, CONFIG, 41.5, True, is_probe=True)
    assert closed.state == CLOSED and moved.reason == "probe call succeeded"
    assert closed.consecutive_opens == 0


def test_cool_down_is_capped():
    assert breaker.cool_down(CONFIG, 1) == 10
    assert breaker.cool_down(CONFIG, 3) == 40
    assert breaker.cool_down(CONFIG, 10) == 40


def test_a_late_outcome_from_before_the_opening_does_not_decide_the_probe():
    state, _ = feed(BreakerState(), [False] * 5)
    probe = breaker.admit(state, CONFIG, now=15.0)
    late, moved = breaker.record(probe.state, CONFIG, 15.1, True)  # not the probe
    assert late.state == HALF_OPEN and moved is None


def test_a_lost_probe_is_replaced_after_the_probe_timeout():
    config = BreakerConfig(min_calls=1, cool_down_seconds=1, probe_timeout_seconds=30)
    state, _ = breaker.record(BreakerState(), config, 0.0, False)
    probe = breaker.admit(state, config, now=2.0)
    assert not breaker.admit(probe.state, config, now=20.0).allowed
    assert breaker.admit(probe.state, config, now=33.0).allowed


def test_backoff_delay_is_jittered_exponential_and_capped():
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (10, 8.0)]:
        delays = [breaker.backoff_delay(attempt, 0.5, 8.0, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the range, not a fixed delay
        assert len(set(delays)) > 150
    with pytest.raises(ValueError):
        breaker.backoff_delay(0)
