"""Healing history built row by row with known timestamps, for the numbers and the alert rules."""

from datetime import datetime, timedelta

from proposals.models import FixAttempt, Proposal
from selfheal.models import Project


def healing_run(
    project: Project,
    finished_at: datetime,
    outcomes: list[str],
    *,
    status: str | None = None,
    strategy: str = "rules",
    confidence: float | None = 0.9,
    title: str = "Fix something",
    seconds_per_attempt: float = 60.0,
) -> Proposal:
    """A proposal with one attempt per outcome, the last one finished at `finished_at`."""
    healed = outcomes[-1] == "passed"
    proposal = Proposal.objects.create(
        project=project, title=title, status=status or ("tests_passed" if healed else "unfixable")
    )
    step = timedelta(seconds=seconds_per_attempt)
    start = finished_at - step * len(outcomes)
    for number, outcome in enumerate(outcomes, 1):
        attempt = FixAttempt.objects.create(
            proposal=proposal, number=number, outcome=outcome, strategy=strategy,
            confidence=confidence, explanation=f"attempt {number}", duration=step.total_seconds(),
        )  # fmt: skip
        began = start + step * (number - 1)
        FixAttempt.objects.filter(pk=attempt.pk).update(started_at=began, finished_at=began + step)
    return proposal
