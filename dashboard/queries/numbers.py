"""The headline numbers: heals, success rate, confidence, time to heal, false positives, errors."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    Avg,
    BooleanField,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)

from monitoring.models import ErrorEvent, ErrorGroup, ErrorGroupStatus
from patterns.models import PatternStatus
from proposals.alerts import healing_runs
from proposals.history import reverted_writes, written_by
from proposals.models import (
    AttemptOutcome,
    FixAttempt,
    Proposal,
    ProposalStatus,
    Review,
    ReviewDecision,
)

from .scope import Scope, patterns_in, rate

HEALING_WINDOW = timedelta(days=30)
ERROR_WINDOW = timedelta(hours=24)
PENDING_COUNT_CAP = 10_000  # counting a huge grouping backlog exactly would cost more than it says


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


def auto_applied_proposals(ids: list[int], since: datetime, now: datetime) -> QuerySet[Proposal]:
    """Proposals applied by the auto-apply policy in the window, with `false_positive`.

    A false positive is an auto-applied fix that did not hold, read from what is stored:
    - reverted: a file the proposal wrote (the version whose source is "proposal #<id>") later got
      back the content it had before (or was deleted again, if the proposal created it);
    - or rejected: a rejection review of the proposal after the automatic approval.

    The writes are matched by their source text in one pass (a hashed subplan), not per proposal.
    """
    approvals = Review.objects.filter(automatic=True, decision=ReviewDecision.APPROVED)
    applied = Proposal.objects.filter(
        project_id__in=ids,
        pk__in=approvals.filter(created_at__gte=since, created_at__lte=now).values("proposal_id"),
    )
    first_approval = (
        approvals.filter(proposal=OuterRef("pk")).order_by("created_at").values("created_at")[:1]
    )
    rejected_later = Review.objects.filter(
        proposal=OuterRef("pk"),
        decision=ReviewDecision.REJECTED,
        created_at__gt=OuterRef("auto_applied_at"),
    )
    return applied.alias(
        written_by=written_by(),
        auto_applied_at=Subquery(first_approval),
        false_positive=ExpressionWrapper(
            Q(written_by__in=reverted_writes(applied)) | Q(Exists(rejected_later)),
            output_field=BooleanField(),
        ),
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
        success_rate=rate(runs["healed_runs"], runs["total"]),
        average_confidence=heals["confidence"],
        mean_time_to_heal=heals["mean_time"],
        auto_applied=applied["total"],
        false_positives=applied["false_positives"],
        false_positive_rate=rate(applied["false_positives"], applied["total"]),
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
