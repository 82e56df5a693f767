"""Alert causes that come from learning (registered with monitoring's alert rules)."""

from collections.abc import Iterable
from datetime import datetime

from monitoring.alerts import AlertCondition, alert_rule
from monitoring.models import AlertSeverity

from .models import BreakerState, CircuitBreaker


@alert_rule("circuit_open")
def open_circuits(now: datetime) -> Iterable[AlertCondition]:
    """A circuit breaker that is open (or probing) is a warning; it resolves when it closes."""
    for breaker in CircuitBreaker.objects.exclude(state=BreakerState.CLOSED):
        since = f" since {breaker.opened_at:%Y-%m-%d %H:%M} UTC" if breaker.opened_at else ""
        yield AlertCondition(
            project_id=None,
            cause=f"circuit_open:{breaker.name}",
            severity=AlertSeverity.WARNING,
            title=f"Circuit breaker '{breaker.name}' is {breaker.state}{since}",
            body="Calls through it are skipped until a probe succeeds.",
        )
