"""What became of fixes: which applied proposals were undone later, and the fix history the
weekly self-improvement learns from (handed to patterns as plain records)."""

from datetime import datetime

from django.db.models import CharField, Exists, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce, Concat

from .models import (
    AttemptOutcome,
    FixAttempt,
    ProjectFileVersion,
    Proposal,
    ProposalStatus,
    Review,
    ReviewDecision,
)

TRIED = [AttemptOutcome.PASSED, AttemptOutcome.IMPROVED, AttemptOutcome.FAILED]


def written_by():
    """The `source` a proposal's writes carry on ProjectFileVersion ("proposal #<id>")."""
    return Concat(Value("proposal #"), Cast("pk", output_field=CharField()))


def reverted_writes(proposals: QuerySet[Proposal]) -> QuerySet:
    """Sources ("proposal #<id>") of the given proposals' writes that were undone later: the file
    got back the content it had before the write (or was deleted again, if the write created it).
    One query, usable as a subquery."""
    previous = ProjectFileVersion.objects.filter(
        file=OuterRef("file"), version=OuterRef("version") - 1
    ).order_by()
    restored = ProjectFileVersion.objects.filter(
        file=OuterRef("file"),
        version__gt=OuterRef("version"),
        content=OuterRef("before_content"),
        deleted=OuterRef("before_deleted"),
    )
    return (
        ProjectFileVersion.objects.filter(
            source__in=proposals.annotate(src=written_by()).values("src")
        )
        .annotate(
            before_content=Coalesce(Subquery(previous.values("content")[:1]), Value("")),
            before_deleted=Coalesce(Subquery(previous.values("deleted")[:1]), Value(True)),
        )
        .filter(Exists(restored))
        .values("source")
    )


def fix_history(since: datetime) -> list:
    """Every tried fix since `since` as a patterns FixRecord: its confidence, whether it passed,
    whether it was auto-applied, and whether it held (applied and not undone; rejected or undone
    is not holding; undecided is None)."""
    from patterns.services import FixRecord

    attempts = list(
        FixAttempt.objects.filter(started_at__gte=since, outcome__in=TRIED)
        .select_related("proposal")
        .order_by("started_at")
    )
    ids = {a.proposal_id for a in attempts}
    automatic = set(
        Review.objects.filter(
            proposal_id__in=ids, automatic=True, decision=ReviewDecision.APPROVED
        ).values_list("proposal_id", flat=True)
    )
    applied = Proposal.objects.filter(pk__in=ids, status=ProposalStatus.APPLIED)
    undone = {
        int(source.removeprefix("proposal #"))
        for source in reverted_writes(applied).values_list("source", flat=True)
    }
    records = []
    for attempt in attempts:
        proposal = attempt.proposal
        passed = attempt.outcome == AttemptOutcome.PASSED
        held = None
        if passed and proposal.status == ProposalStatus.REJECTED:
            held = False
        elif passed and proposal.status == ProposalStatus.APPLIED:
            held = proposal.pk not in undone
        records.append(
            FixRecord(
                proposal.project_id, attempt.started_at, attempt.strategy, attempt.confidence,
                passed, auto_applied=proposal.pk in automatic, held=held,
            )
        )  # fmt: skip
    return records
