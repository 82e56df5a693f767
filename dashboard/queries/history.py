"""Healing over time: per UTC day, the auto-fix runs that finished and how many healed."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import Trunc

from proposals.models import AttemptOutcome, FixAttempt, ProposalStatus

from .numbers import HEALING_WINDOW
from .scope import Scope, rate


@dataclass
class DayPoint:
    day: datetime
    runs: int  # finished auto-fix runs (proposals) that day
    healed: int

    @property
    def success_rate(self) -> float | None:
        return rate(self.healed, self.runs)


def healing_by_day(scope: Scope, now: datetime, days: int = HEALING_WINDOW.days) -> list[DayPoint]:
    """Per UTC day of the window: proposals the loop finished with, and how many it healed."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=days - 1)
    rows = (
        FixAttempt.objects.filter(
            proposal__project_id__in=scope.project_ids,
            finished_at__gte=start,
            finished_at__lte=now,
        )
        .exclude(proposal__status=ProposalStatus.AUTO_FIXING)
        .annotate(day=Trunc("finished_at", "day"))
        .values("day")
        .annotate(
            runs=Count("proposal", distinct=True),
            healed=Count("proposal", distinct=True, filter=Q(outcome=AttemptOutcome.PASSED)),
        )
    )
    by_day = {row["day"]: row for row in rows}
    points = []
    for i in range(days):
        day = start + timedelta(days=i)
        row = by_day.get(day, {"runs": 0, "healed": 0})
        points.append(DayPoint(day, row["runs"], row["healed"]))
    return points
