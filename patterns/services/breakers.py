"""Circuit breakers around outside services (the Claude API, webhooks): the logic is
selfheal.engine.breaker; here its state is stored, locked while it changes, and every transition
is kept."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from selfheal.engine import breaker
from selfheal.engine.fixers.base import Candidate, FixContext, Fixer, StrategyUnavailable, Unfixable

from ..models import BreakerTransition, CircuitBreaker

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Per breaker name, the settings a newly created breaker starts with (editable in the admin then).
DEFAULT_BREAKERS: dict[str, dict] = {
    "llm": {
        "window_seconds": 600,
        "min_calls": 4,
        "cool_down_seconds": 60,
        "max_cool_down_seconds": 1800,
    },
}


def now() -> datetime:
    """The breakers' clock (tests move it)."""
    return timezone.now()


def _timestamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def _datetime(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds is not None else None


def _config(row: CircuitBreaker) -> breaker.BreakerConfig:
    return breaker.BreakerConfig(
        window_seconds=row.window_seconds,
        min_calls=row.min_calls,
        failure_rate_threshold=row.failure_rate_threshold,
        trend_delta=row.trend_delta,
        cool_down_seconds=row.cool_down_seconds,
        max_cool_down_seconds=row.max_cool_down_seconds,
    )


def _state(row: CircuitBreaker) -> breaker.BreakerState:
    return breaker.BreakerState(
        state=row.state,
        events=tuple((float(t), bool(ok)) for t, ok in row.events),
        opened_at=_timestamp(row.opened_at),
        next_probe_at=_timestamp(row.next_probe_at),
        consecutive_opens=row.consecutive_opens,
        probe_started_at=_timestamp(row.probe_started_at),
    )


def _store(row: CircuitBreaker, state: breaker.BreakerState, transitions, moment: datetime) -> None:
    row.state = state.state
    row.events = [[t, ok] for t, ok in state.events]
    row.opened_at = _datetime(state.opened_at)
    row.next_probe_at = _datetime(state.next_probe_at)
    row.probe_started_at = _datetime(state.probe_started_at)
    row.consecutive_opens = state.consecutive_opens
    row.save()
    for transition in transitions:
        if transition is None:
            continue
        BreakerTransition.objects.create(
            breaker=row,
            from_state=transition.from_state,
            to_state=transition.to_state,
            reason=transition.reason,
            created_at=moment,
        )
        log = logger.warning if transition.to_state == breaker.OPEN else logger.info
        log(
            "Circuit %r: %s -> %s (%s)",
            row.name,
            transition.from_state,
            transition.to_state,
            transition.reason,
        )


def get_breaker(name: str) -> CircuitBreaker:
    defaults = {
        **DEFAULT_BREAKERS.get(name, {}),
        **getattr(settings, "PATTERNS_BREAKERS", {}).get(name, {}),
    }
    row, _ = CircuitBreaker.objects.get_or_create(name=name, defaults=defaults)
    return row


def _refusal(row: CircuitBreaker, reason: str) -> str:
    if reason == "half_open":
        return (
            f"circuit {row.name!r} is half-open: a probe call is in flight since "
            f"{row.probe_started_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    return (
        f"circuit {row.name!r} is open since {row.opened_at:%Y-%m-%d %H:%M:%S} UTC; "
        f"next probe at {row.next_probe_at:%Y-%m-%d %H:%M:%S} UTC"
    )


def _admit(name: str) -> bool:
    """Ask the breaker for one call; True when it is the half-open probe. Raises
    StrategyUnavailable (saying until when) when the circuit refuses."""
    get_breaker(name)
    moment = now()
    with transaction.atomic():
        row = CircuitBreaker.objects.select_for_update().get(name=name)
        admission = breaker.admit(_state(row), _config(row), moment.timestamp())
        if admission.state != _state(row) or admission.transitions:
            _store(row, admission.state, admission.transitions, moment)
    if not admission.allowed:
        raise StrategyUnavailable(_refusal(row, admission.reason))
    return admission.is_probe


def record_call(name: str, succeeded: bool, is_probe: bool = False) -> CircuitBreaker:
    """Fold one call's outcome into the stored breaker."""
    get_breaker(name)
    moment = now()
    with transaction.atomic():
        row = CircuitBreaker.objects.select_for_update().get(name=name)
        state, transition = breaker.record(
            _state(row), _config(row), moment.timestamp(), succeeded, is_probe=is_probe
        )
        if succeeded:
            row.total_successes += 1
        else:
            row.total_failures += 1
        _store(row, state, [transition], moment)
    return row


def _release_probe(name: str) -> None:
    """A probe ended in an error that says nothing about the service: let the next call probe."""
    CircuitBreaker.objects.filter(name=name, state=breaker.HALF_OPEN).update(probe_started_at=None)


def call_with_breaker(
    name: str,
    fn: Callable[..., T],
    *args: Any,
    failure_exceptions: tuple[type[BaseException], ...] = (StrategyUnavailable,),
    success_exceptions: tuple[type[BaseException], ...] = (Unfixable,),
    **kwargs: Any,
) -> T:
    """Call `fn` through the named circuit breaker.

    While the circuit is open it raises StrategyUnavailable saying since when and until when. An
    exception in `failure_exceptions` counts as a failure; a return, or an exception in
    `success_exceptions` (an answer, not a fault: "unfixable"), as a success; anything else is
    re-raised without counting.
    """
    is_probe = _admit(name)
    try:
        result = fn(*args, **kwargs)
    except failure_exceptions:
        record_call(name, False, is_probe)
        raise
    except success_exceptions:
        record_call(name, True, is_probe)
        raise
    except BaseException:
        if is_probe:
            _release_probe(name)
        raise
    record_call(name, True, is_probe)
    return result


@dataclass
class BreakerStatus:
    name: str
    state: str
    failure_rate: float
    calls_in_window: int
    opened_at: datetime | None
    next_probe_at: datetime | None
    consecutive_opens: int
    total_successes: int
    total_failures: int
    transitions: list[dict] = field(default_factory=list)  # newest first

    @property
    def summary(self) -> str:
        if self.state == breaker.OPEN:
            return f"open since {self.opened_at:%H:%M:%S}, next probe at {self.next_probe_at:%H:%M:%S} UTC"
        if self.state == breaker.HALF_OPEN:
            return "half-open: probing"
        return f"closed ({self.failure_rate:.0%} failures over {self.calls_in_window} recent calls)"


def breaker_status(name: str, transitions: int = 10) -> BreakerStatus:
    row = get_breaker(name)
    config = _config(row)
    moment = now().timestamp()
    window = [(t, ok) for t, ok in row.events if t >= moment - config.window_seconds]
    return BreakerStatus(
        name=row.name,
        state=row.state,
        failure_rate=breaker.failure_rate(tuple(window)),
        calls_in_window=len(window),
        opened_at=row.opened_at,
        next_probe_at=row.next_probe_at,
        consecutive_opens=row.consecutive_opens,
        total_successes=row.total_successes,
        total_failures=row.total_failures,
        transitions=[
            {"from": t.from_state, "to": t.to_state, "reason": t.reason, "at": t.created_at}
            for t in row.transitions.all()[:transitions]
        ],
    )


@transaction.atomic
def reset_breaker(name: str, reason: str) -> CircuitBreaker:
    """Close a circuit by hand (an operator knows the service is back)."""
    row = CircuitBreaker.objects.select_for_update().get(name=name)
    previous = row.state
    _store(row, breaker.BreakerState(), [], now())
    if previous != breaker.CLOSED:
        BreakerTransition.objects.create(
            breaker=row,
            from_state=previous,
            to_state=breaker.CLOSED,
            reason=reason,
            created_at=now(),
        )
    return row


class BreakerGuardedFixer:
    """Any fixer, behind a circuit breaker: while the circuit is open the loop is told why and
    moves on to the next strategy."""

    def __init__(self, fixer: Fixer, breaker_name: str):
        self.fixer = fixer
        self.breaker_name = breaker_name
        self.name = fixer.name

    def propose(self, context: FixContext) -> list[Candidate]:
        return call_with_breaker(self.breaker_name, self.fixer.propose, context)


class _WebhookFailed(Exception):
    def __init__(self, result):
        super().__init__(result.detail)
        self.result = result


def guarded_webhook(url: str, send: Callable[[], Any]) -> Any:
    """monitoring's call guard: every outgoing webhook goes through the breaker of its host
    ("webhook:<host>"). While that circuit is open nothing is sent; the failed PostResult says
    why, and the caller's retry schedule (alert deliveries, rollbacks) tries again later."""
    from monitoring.webhooks import PostResult

    name = f"webhook:{urlsplit(url).hostname or 'unknown'}"[:100]

    def call():
        result = send()
        if not result.ok:
            raise _WebhookFailed(result)
        return result

    try:
        return call_with_breaker(name, call, failure_exceptions=(_WebhookFailed,))
    except _WebhookFailed as failed:
        return failed.result
    except StrategyUnavailable as exc:
        return PostResult(False, None, str(exc), 0)
