"""Lists: learned patterns, recent healing actions, open alerts, circuit breakers, experiments."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, Q

from monitoring.models import Alert, AlertStatus, HealingAction
from patterns.models import CircuitBreaker, Pattern
from patterns.services import BreakerStatus, breaker_status
from patterns.services.experiments import ExperimentView, VariantNumbers, experiments_to_show
from proposals.models import FixAttempt

from .scope import Scope, patterns_in

RECENT_ACTIONS = 20
PATTERNS_SHOWN = 15
EXPERIMENTS_SHOWN = 10
ALERTS_SHOWN = 20


def learned_patterns(scope: Scope, limit: int = PATTERNS_SHOWN) -> list[Pattern]:
    """The most used patterns first (then the most confident), with their success rates."""
    return list(
        patterns_in(scope)
        .annotate(used=F("successes") + F("failures"))
        .order_by("-used", "-confidence", "-pk")[:limit]
    )


@dataclass
class HealingEvent:
    """One row of the recent-actions list: a fix attempt or a job's healing action."""

    at: datetime
    kind: str  # "fix" | "job"
    project: str
    title: str
    url: str
    what: str
    outcome: str
    detail: str = ""
    confidence: float | None = None
    duration: float | None = None
    key: str = field(default="")


def recent_actions(scope: Scope, limit: int = RECENT_ACTIONS) -> list[HealingEvent]:
    """Fix attempts and job healing actions, merged, newest first."""
    ids = scope.project_ids
    attempts = (
        FixAttempt.objects.filter(proposal__project_id__in=ids)
        .select_related("proposal__project")
        .order_by("-started_at", "-pk")[:limit]
    )
    actions = (
        HealingAction.objects.filter(job__project_id__in=ids)
        .select_related("job__project")
        .order_by("-created_at", "-pk")[:limit]
    )
    events = [
        HealingEvent(
            at=a.started_at,
            kind="fix",
            project=a.proposal.project.name,
            title=f"#{a.proposal_id} {a.proposal.title}",
            url=f"/proposals/{a.proposal_id}/",
            what=f"Fix attempt {a.number}" + (f" · {a.strategy}" if a.strategy else ""),
            outcome=a.outcome,
            detail=a.explanation.splitlines()[0][:200] if a.explanation else "",
            confidence=a.confidence,
            duration=a.duration if a.finished_at else None,
            key=f"attempt-{a.pk}",
        )
        for a in attempts
    ]
    events += [
        HealingEvent(
            at=h.created_at,
            kind="job",
            project=h.job.project.name,
            title=h.job.name,
            url=f"/jobs/{h.job_id}/",
            what=f"{h.get_problem_display()} job · {h.kind.replace('_', ' ')}",
            outcome=h.outcome,
            detail=h.detail[:200],
            key=f"job-action-{h.pk}",
        )
        for h in actions
    ]
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:limit]


def open_alerts(scope: Scope, limit: int = ALERTS_SHOWN) -> list[Alert]:
    """Open alerts of the chosen projects; with no project chosen, also the service-wide ones."""
    where = Q(project_id__in=scope.project_ids)
    if scope.project is None:
        where |= Q(project__isnull=True)
    return list(
        Alert.objects.filter(where, status=AlertStatus.OPEN)
        .select_related("project")
        .order_by("-opened_at")[:limit]
    )


def breakers() -> list[BreakerStatus]:
    """Every stored circuit breaker (a handful: one per outside service), open ones first."""
    names = CircuitBreaker.objects.order_by("name").values_list("name", flat=True)
    statuses = [breaker_status(name, transitions=3) for name in names]
    return sorted(statuses, key=lambda s: s.state == "closed")


# The dashboard's names for the experiments and variants the patterns app computes.
Experiment = ExperimentView
Variant = VariantNumbers


def running_experiments(scope: Scope, limit: int = EXPERIMENTS_SHOWN) -> list[Experiment]:
    """Open experiments (fix variants competing, or a winner rolling out) on the patterns in scope
    and on LLM prompts, then patterns whose competing templates wait for their experiment, then
    experiments finished this week. Per variant: trials, successes, success rate with its 95%
    Wilson interval, share of the traffic."""
    return experiments_to_show(patterns_in(scope), limit)
