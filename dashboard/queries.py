"""What the /self-healing page shows, read with aggregate queries on indexed columns over bounded
windows: nothing here loops over events in Python, and nothing is cached (the page is live).

Every function takes a `Scope`: the projects the reader chose among their own.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import (
    Avg,
    BooleanField,
    CharField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat, Trunc

from monitoring.models import (
    Alert,
    AlertStatus,
    ErrorEvent,
    ErrorGroup,
    ErrorGroupStatus,
    HealingAction,
)
from patterns.models import CircuitBreaker, FixTemplate, Pattern, PatternStatus
from patterns.services import BreakerStatus, breaker_status
from proposals.alerts import healing_runs
from proposals.models import (
    AttemptOutcome,
    FixAttempt,
    ProjectFileVersion,
    Proposal,
    ProposalStatus,
    Review,
    ReviewDecision,
)
from selfheal.engine.stats import wilson_interval
from selfheal.models import Project
from selfheal.services import ProjectNotFound, projects_for

HEALING_WINDOW = timedelta(days=30)
ERROR_WINDOW = timedelta(hours=24)
PENDING_COUNT_CAP = 10_000  # counting a huge grouping backlog exactly would cost more than it says
RECENT_ACTIONS = 20
PATTERNS_SHOWN = 15
EXPERIMENTS_SHOWN = 10
ALERTS_SHOWN = 20


@dataclass(frozen=True)
class Scope:
    projects: tuple[Project, ...]  # every project the reader may see
    project: Project | None = None  # the one chosen, or None for all of them

    @property
    def project_ids(self) -> list[int]:
        return [self.project.pk] if self.project else [p.pk for p in self.projects]

    @property
    def slug(self) -> str:
        return self.project.slug if self.project else ""


def scope_for(user: AbstractBaseUser, project_ref: str | None = None) -> Scope:
    """The reader's projects, narrowed to one (by slug or id) when asked; ProjectNotFound for a
    project they may not see."""
    projects = tuple(projects_for(user).order_by("name"))
    if not project_ref:
        return Scope(projects)
    for project in projects:
        if project_ref in (project.slug, str(project.pk)):
            return Scope(projects, project)
    raise ProjectNotFound(f"Project {project_ref!r} not found.")


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- headline numbers ---------------------------------------------------------------------------


@dataclass
class Headline:
    patterns_learned: int
    active_patterns: int
    successful_heals: int
    finished_runs: int
    success_rate: float | None
    average_confidence: float | None
    mean_time_to_heal: timedelta | None
    auto_applied: int
    false_positives: int
    false_positive_rate: float | None
    error_events_24h: int
    open_error_groups: int
    events_waiting: int  # capped at PENDING_COUNT_CAP + 1
    awaiting_review: int
    window_days: int = HEALING_WINDOW.days

    @property
    def events_waiting_shown(self) -> int:
        return min(self.events_waiting, PENDING_COUNT_CAP)

    @property
    def events_waiting_capped(self) -> bool:
        return self.events_waiting > PENDING_COUNT_CAP

    def as_dict(self) -> dict:
        return {
            "window_days": self.window_days,
            "patterns_learned": self.patterns_learned,
            "active_patterns": self.active_patterns,
            "successful_heals": self.successful_heals,
            "finished_runs": self.finished_runs,
            "success_rate": self.success_rate,
            "average_confidence": self.average_confidence,
            "mean_time_to_heal_seconds": (
                self.mean_time_to_heal.total_seconds() if self.mean_time_to_heal else None
            ),
            "auto_applied": self.auto_applied,
            "false_positives": self.false_positives,
            "false_positive_rate": self.false_positive_rate,
            "error_events_24h": self.error_events_24h,
            "open_error_groups": self.open_error_groups,
            "events_waiting": self.events_waiting_shown,
            "events_waiting_capped": self.events_waiting_capped,
            "awaiting_review": self.awaiting_review,
        }


def patterns_in(scope: Scope):
    """Patterns are shared by every project; narrowed to one project, the ones it met."""
    patterns = Pattern.objects.exclude(status=PatternStatus.QUARANTINED)
    return patterns.filter(projects=scope.project) if scope.project else patterns


def _heals(ids: list[int], since: datetime, now: datetime) -> dict:
    """Passing attempts in the window: how many, their mean confidence, and the mean time from
    the proposal's first fix attempt to the one that passed (what the healer took, retries
    included)."""
    first_started = (
        FixAttempt.objects.filter(proposal=OuterRef("proposal"))
        .order_by("number")
        .values("started_at")[:1]
    )
    took = ExpressionWrapper(
        F("finished_at") - Subquery(first_started), output_field=DurationField()
    )
    return (
        FixAttempt.objects.filter(
            outcome=AttemptOutcome.PASSED,
            proposal__project_id__in=ids,
            finished_at__gte=since,
            finished_at__lte=now,
        )
        .annotate(took=took)
        .aggregate(heals=Count("pk"), confidence=Avg("confidence"), mean_time=Avg("took"))
    )


def auto_applied_proposals(ids: list[int], since: datetime, now: datetime):
    """Proposals applied by the auto-apply policy in the window, with `false_positive`.

    A false positive is an auto-applied fix that did not hold, read from what is stored:
    - reverted: a file the proposal wrote (the version whose source is "proposal #<id>") later got
      back the content it had before (or was deleted again, if the proposal created it);
    - or rejected: a rejection review of the proposal after the automatic approval.
    """
    approvals = Review.objects.filter(
        proposal=OuterRef("pk"), automatic=True, decision=ReviewDecision.APPROVED
    )
    previous = ProjectFileVersion.objects.filter(
        file=OuterRef("file"), version=OuterRef("version") - 1
    )
    restored = ProjectFileVersion.objects.filter(
        file=OuterRef("file"),
        version__gt=OuterRef("version"),
        content=OuterRef("before_content"),
        deleted=OuterRef("before_deleted"),
    )
    reverted_writes = (
        ProjectFileVersion.objects.filter(
            file__project_id=OuterRef("project_id"),
            source=Concat(Value("proposal #"), Cast(OuterRef("pk"), output_field=CharField())),
        )
        .annotate(
            before_content=Coalesce(Subquery(previous.values("content")[:1]), Value("")),
            before_deleted=Coalesce(Subquery(previous.values("deleted")[:1]), Value(True)),
        )
        .filter(Exists(restored))
    )
    rejected_later = Review.objects.filter(
        proposal=OuterRef("pk"),
        decision=ReviewDecision.REJECTED,
        created_at__gt=OuterRef("auto_applied_at"),
    )
    return (
        Proposal.objects.filter(project_id__in=ids)
        .alias(auto_applied_at=Subquery(approvals.order_by("created_at").values("created_at")[:1]))
        .filter(auto_applied_at__gte=since, auto_applied_at__lte=now)
        .alias(
            false_positive=ExpressionWrapper(
                Q(Exists(reverted_writes)) | Q(Exists(rejected_later)), output_field=BooleanField()
            )
        )
    )


def headline(scope: Scope, now: datetime) -> Headline:
    ids = scope.project_ids
    since = now - HEALING_WINDOW
    patterns = patterns_in(scope).aggregate(
        learned=Count("pk", distinct=True),
        active=Count("pk", filter=Q(status=PatternStatus.ACTIVE), distinct=True),
    )
    heals = _heals(ids, since, now)
    runs = (
        healing_runs(since, now)
        .filter(project_id__in=ids)
        .aggregate(total=Count("pk"), healed_runs=Count("pk", filter=Q(healed=True)))
    )
    applied = auto_applied_proposals(ids, since, now).aggregate(
        total=Count("pk"), false_positives=Count("pk", filter=Q(false_positive=True))
    )
    return Headline(
        patterns_learned=patterns["learned"],
        active_patterns=patterns["active"],
        successful_heals=heals["heals"],
        finished_runs=runs["total"],
        success_rate=_rate(runs["healed_runs"], runs["total"]),
        average_confidence=heals["confidence"],
        mean_time_to_heal=heals["mean_time"],
        auto_applied=applied["total"],
        false_positives=applied["false_positives"],
        false_positive_rate=_rate(applied["false_positives"], applied["total"]),
        error_events_24h=ErrorEvent.objects.filter(
            project_id__in=ids, timestamp__gte=now - ERROR_WINDOW, timestamp__lte=now
        ).count(),
        open_error_groups=ErrorGroup.objects.filter(
            project_id__in=ids,
            status__in=[ErrorGroupStatus.UNRESOLVED, ErrorGroupStatus.HEALING],
        ).count(),
        events_waiting=ErrorEvent.objects.filter(project_id__in=ids, group__isnull=True)[
            : PENDING_COUNT_CAP + 1
        ].count(),
        awaiting_review=Proposal.objects.filter(
            project_id__in=ids,
            status__in=[ProposalStatus.TESTS_PASSED, ProposalStatus.NEEDS_REVIEW],
        ).count(),
    )


# --- lists --------------------------------------------------------------------------------------


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


@dataclass
class Variant:
    label: str
    description: str
    trials: int
    successes: int
    rate: float | None
    interval: tuple[float, float] | None


@dataclass
class Experiment:
    pattern: Pattern
    variants: list[Variant]


def running_experiments(scope: Scope, limit: int = EXPERIMENTS_SHOWN) -> list[Experiment]:
    """A live pattern with two or more templates is an experiment: its templates compete as fix
    variants. Per variant: trials, successes, success rate with its 95% Wilson interval."""
    competing = (
        FixTemplate.objects.values("pattern")
        .annotate(variants=Count("pk"))
        .filter(variants__gte=2)
        .values("pattern")
    )
    patterns = (
        patterns_in(scope)
        .filter(pk__in=competing, status__in=[PatternStatus.CANDIDATE, PatternStatus.ACTIVE])
        .prefetch_related("templates")
        .order_by("-last_used_at", "-pk")[:limit]
    )
    experiments = []
    for pattern in patterns:
        variants = []
        for template in pattern.templates.all():
            trials = template.successes + template.failures
            variants.append(
                Variant(
                    label=template.variant,
                    description=template.description,
                    trials=trials,
                    successes=template.successes,
                    rate=_rate(template.successes, trials),
                    interval=wilson_interval(template.successes, trials) if trials else None,
                )
            )
        experiments.append(Experiment(pattern, variants))
    return experiments


# --- over time ----------------------------------------------------------------------------------


@dataclass
class DayPoint:
    day: datetime
    runs: int  # finished auto-fix runs (proposals) that day
    healed: int

    @property
    def success_rate(self) -> float | None:
        return _rate(self.healed, self.runs)


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
