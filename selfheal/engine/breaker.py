"""A trend-aware circuit breaker, as pure functions over a state the caller stores.

closed    calls go through; outcomes are kept for a sliding window. The circuit opens when the
          window holds enough calls and either the failure rate reaches the limit, or failures are
          rising: the newer half of the window fails markedly more than the older half.
open      calls are refused until the cool-down ends; each consecutive opening doubles the
          cool-down (up to a cap).
half_open one probe call is let through; success closes the circuit, failure opens it again. A
          probe that never reports back (a crashed worker) is replaced after `probe_timeout`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATES = (CLOSED, OPEN, HALF_OPEN)


@dataclass(frozen=True)
class BreakerConfig:
    window_seconds: float = 300.0
    min_calls: int = 5  # no verdict on fewer calls than this in the window
    failure_rate_threshold: float = 0.5
    trend_delta: float = 0.4  # newer-half failure rate minus older-half rate that counts as rising
    cool_down_seconds: float = 30.0
    max_cool_down_seconds: float = 600.0
    probe_timeout_seconds: float = 300.0
    max_events: int = 200


@dataclass(frozen=True)
class BreakerState:
    state: str = CLOSED
    events: tuple[tuple[float, bool], ...] = ()  # (timestamp, succeeded), oldest first
    opened_at: float | None = None
    next_probe_at: float | None = None
    consecutive_opens: int = 0
    probe_started_at: float | None = None


@dataclass(frozen=True)
class Transition:
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True)
class Admission:
    allowed: bool
    state: BreakerState
    reason: str = ""  # why a call is refused, or that it is the half-open probe
    is_probe: bool = False
    transitions: tuple[Transition, ...] = field(default_factory=tuple)


def _window(events: tuple[tuple[float, bool], ...], config: BreakerConfig, now: float):
    start = now - config.window_seconds
    return tuple(e for e in events if e[0] >= start)[-config.max_events :]


def failure_rate(events: tuple[tuple[float, bool], ...]) -> float:
    if not events:
        return 0.0
    return sum(1 for _, ok in events if not ok) / len(events)


def failure_trend(events: tuple[tuple[float, bool], ...]) -> float:
    """Failure rate of the newer half of the calls minus that of the older half."""
    half = len(events) // 2
    if half == 0:
        return 0.0
    return failure_rate(events[-half:]) - failure_rate(events[:half])


def cool_down(config: BreakerConfig, consecutive_opens: int) -> float:
    return min(
        config.max_cool_down_seconds,
        config.cool_down_seconds * 2 ** max(0, consecutive_opens - 1),
    )


def _open(state: BreakerState, config: BreakerConfig, now: float) -> BreakerState:
    opens = state.consecutive_opens + 1
    return replace(
        state,
        state=OPEN,
        opened_at=now,
        next_probe_at=now + cool_down(config, opens),
        consecutive_opens=opens,
        probe_started_at=None,
    )


def admit(state: BreakerState, config: BreakerConfig, now: float) -> Admission:
    """May a call go through now? Moves open -> half_open when the cool-down is over."""
    if state.state == CLOSED:
        return Admission(True, state)
    if state.state == OPEN:
        if state.next_probe_at is not None and now < state.next_probe_at:
            return Admission(False, state, "open")
        probing = replace(state, state=HALF_OPEN, probe_started_at=now)
        moved = Transition(OPEN, HALF_OPEN, "cool-down over; letting one probe call through")
        return Admission(True, probing, "probe", is_probe=True, transitions=(moved,))
    # half_open: one probe at a time; a probe lost without an outcome is replaced after a timeout.
    if (
        state.probe_started_at is not None
        and now - state.probe_started_at < config.probe_timeout_seconds
    ):
        return Admission(False, state, "half_open")
    return Admission(True, replace(state, probe_started_at=now), "probe", is_probe=True)


def record(
    state: BreakerState,
    config: BreakerConfig,
    now: float,
    succeeded: bool,
    is_probe: bool = False,
) -> tuple[BreakerState, Transition | None]:
    """Fold one call's outcome into the state; return the new state and the transition, if any.

    Only the probe's outcome decides a half-open circuit; calls admitted before the circuit opened
    may report late, and are kept in the window without deciding anything.
    """
    if state.state == HALF_OPEN and is_probe:
        if succeeded:
            closed = BreakerState(state=CLOSED, events=((now, True),))
            return closed, Transition(HALF_OPEN, CLOSED, "probe call succeeded")
        reopened = _open(
            replace(state, events=_window(state.events + ((now, False),), config, now)), config, now
        )
        return reopened, Transition(
            HALF_OPEN, OPEN, f"probe call failed; next probe in {reopened.next_probe_at - now:.0f}s"
        )
    if state.state != CLOSED:
        return replace(state, events=_window(state.events + ((now, succeeded),), config, now)), None

    events = _window(state.events + ((now, succeeded),), config, now)
    closed = replace(state, events=events)
    if succeeded or len(events) < config.min_calls:
        return closed, None
    rate = failure_rate(events)
    if rate >= config.failure_rate_threshold:
        reason = (
            f"failure rate {rate:.0%} over the last {len(events)} calls "
            f"(limit {config.failure_rate_threshold:.0%})"
        )
        return _open(closed, config, now), Transition(CLOSED, OPEN, reason)
    if len(events) >= 2 * config.min_calls and failure_trend(events) >= config.trend_delta:
        half = len(events) // 2
        reason = (
            f"failures rising: {failure_rate(events[-half:]):.0%} of the last {half} calls "
            f"against {failure_rate(events[:half]):.0%} of the {half} before"
        )
        return _open(closed, config, now), Transition(CLOSED, OPEN, reason)
    return closed, None


def backoff_delay(
    attempt: int,
    base_seconds: float = 1.0,
    cap_seconds: float = 60.0,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number `attempt` (1-based): "full jitter" exponential backoff, a uniform
    draw in [0, min(cap, base * 2**(attempt - 1))], so retrying clients do not move in lockstep."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    ceiling = min(cap_seconds, base_seconds * 2 ** (attempt - 1))
    return (rng or random).uniform(0.0, ceiling)
