"""Alert causes that come from healing (registered with monitoring's alert rules).

- `healing_failure_rate` (critical, one per project): over the last day more than 30% of the
  finished auto-fix runs did not heal, counted only from a handful of runs up, so one failure out
  of one does not page anyone.
- `complex_heal` (info, one per proposal): a fix that passed only after several attempts, or that
  came from the mutation search or the LLM, is worth a look; the alert resolves after a day.

Monitoring opens one alert per cause, delivers it on the project's channels, and resolves it when
the rule stops returning its cause.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from monitoring.alerts import AlertCondition, alert_rule
from monitoring.models import AlertSeverity
from selfheal.models import Project

from .models import AttemptOutcome, FixAttempt, Proposal, ProposalStatus

FAILURE_RATE_LIMIT = 0.30
FAILURE_WINDOW = timedelta(hours=24)
MIN_RUNS_FOR_FAILURE_RATE = 5
FAILED_PROPOSALS_LISTED = 10

COMPLEX_HEAL_WINDOW = timedelta(hours=24)
COMPLEX_HEAL_MIN_ATTEMPTS = 2
COMPLEX_STRATEGIES = ("mutation", "llm")


def healing_runs(
    since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Proposal]:
    """The proposals the auto-fix loop worked on and finished with in [since, until], each once,
    with `healed`: one of those attempts passed the whole suite. A proposal the loop is still
    working on has not finished. The dashboard's success rate counts the same way."""
    attempts = FixAttempt.objects.filter(proposal=OuterRef("pk"), finished_at__isnull=False)
    if since is not None:
        attempts = attempts.filter(finished_at__gte=since)
    if until is not None:
        attempts = attempts.filter(finished_at__lte=until)
    return (
        Proposal.objects.filter(Exists(attempts))
        .exclude(status=ProposalStatus.AUTO_FIXING)
        .alias(healed=Exists(attempts.filter(outcome=AttemptOutcome.PASSED)))
    )


def _proposal_url(proposal_id: int) -> str:
    return f"{settings.SELFHEAL_PUBLIC_URL.rstrip('/')}/proposals/{proposal_id}/"


@alert_rule("healing_failure_rate")
def healing_failure_rate(now: datetime) -> Iterable[AlertCondition]:
    """Active per project while more than 30% of its last day's finished auto-fix runs failed."""
    runs = healing_runs(now - FAILURE_WINDOW, now)
    per_project = (
        runs.values("project_id")
        .annotate(total=Count("pk"), healed_runs=Count("pk", filter=Q(healed=True)))
        .filter(total__gte=MIN_RUNS_FOR_FAILURE_RATE)
    )
    failing = {
        row["project_id"]: row
        for row in per_project
        if (row["total"] - row["healed_runs"]) / row["total"] > FAILURE_RATE_LIMIT
    }
    projects = Project.objects.in_bulk(list(failing))
    conditions = []
    for project_id, row in failing.items():
        failed = row["total"] - row["healed_runs"]
        examples = runs.filter(project_id=project_id, healed=False).order_by("-updated_at")
        lines = [
            f"#{p.pk} {p.title} ({p.status}): {p.status_reason or 'no reason recorded'} "
            f"{_proposal_url(p.pk)}"
            for p in examples[:FAILED_PROPOSALS_LISTED]
        ]
        conditions.append(
            AlertCondition(
                project_id=project_id,
                cause=f"healing_failure_rate:{project_id}",
                severity=AlertSeverity.CRITICAL,
                title=f"Healing is failing in {projects[project_id].name}: {failed} of "
                f"{row['total']} auto-fix runs did not heal in the last 24 h "
                f"({failed / row['total']:.0%})",
                body="Proposals the auto-fix loop could not heal:\n" + "\n".join(lines),
            )
        )
    return conditions


@alert_rule("complex_heal")
def complex_heals(now: datetime) -> Iterable[AlertCondition]:
    """Active for a day after a fix passed on a second or later attempt, or from a strategy
    whose fixes nobody wrote down before (mutation search, LLM)."""
    passed = (
        FixAttempt.objects.filter(
            outcome=AttemptOutcome.PASSED,
            finished_at__gte=now - COMPLEX_HEAL_WINDOW,
            finished_at__lte=now,
        )
        .filter(Q(number__gte=COMPLEX_HEAL_MIN_ATTEMPTS) | Q(strategy__in=COMPLEX_STRATEGIES))
        .select_related("proposal", "proposal__project")
    )
    conditions = []
    for attempt in passed:
        proposal = attempt.proposal
        how = f"attempt {attempt.number} with the {attempt.strategy or 'unknown'} strategy"
        conditions.append(
            AlertCondition(
                project_id=proposal.project_id,
                cause=f"complex_heal:{proposal.pk}",
                severity=AlertSeverity.INFO,
                title=f"Healed proposal #{proposal.pk} {proposal.title} on {how}"[:300],
                body=f"{attempt.explanation}\n\nConfidence: "
                f"{attempt.confidence if attempt.confidence is not None else 'unknown'}; "
                f"status now {proposal.status}.\n{_proposal_url(proposal.pk)}",
            )
        )
    return conditions
