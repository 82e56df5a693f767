"""What the pattern table has learned, in numbers and with project names only where the reader
may see the project."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Avg, Count, Q, Sum

from selfheal.models import Project
from selfheal.services import projects_for

from ..models import Pattern, PatternOutcome, PatternStatus

LIVE = [PatternStatus.CANDIDATE, PatternStatus.ACTIVE]


def _rate(successes: int, failures: int) -> float | None:
    total = successes + failures
    return successes / total if total else None


def learning_stats(project: Project | None = None) -> dict:
    """Patterns learned, successful heals (pattern successes), average confidence of the live
    patterns, success rate; overall and per category. With a project: its own outcomes only."""
    patterns = Pattern.objects.exclude(status=PatternStatus.QUARANTINED)
    if project is None:
        totals = patterns.aggregate(successes=Sum("successes"), failures=Sum("failures"))
        successes, failures = totals["successes"] or 0, totals["failures"] or 0
    else:
        patterns = patterns.filter(projects=project)
        outcomes = PatternOutcome.objects.filter(project=project)
        successes = outcomes.filter(success=True).count()
        failures = outcomes.filter(success=False).count()
    live = patterns.filter(status__in=LIVE)
    per_category = []
    rows = (
        patterns.values("category")
        .annotate(
            patterns=Count("pk", distinct=True),
            active=Count("pk", filter=Q(status=PatternStatus.ACTIVE), distinct=True),
            successes=Sum("successes"),
            failures=Sum("failures"),
            average_confidence=Avg("confidence", filter=Q(status__in=LIVE)),
        )
        .order_by("category")
    )
    for row in rows:
        per_category.append({
            "category": row["category"],
            "patterns": row["patterns"],
            "active": row["active"],
            "successes": row["successes"] or 0,
            "failures": row["failures"] or 0,
            "success_rate": _rate(row["successes"] or 0, row["failures"] or 0),
            "average_confidence": row["average_confidence"],
        })  # fmt: skip
    return {
        "patterns_learned": patterns.count(),
        "active_patterns": patterns.filter(status=PatternStatus.ACTIVE).count(),
        "successful_heals": successes,
        "failed_heals": failures,
        "average_confidence": live.aggregate(value=Avg("confidence"))["value"],
        "success_rate": _rate(successes, failures),
        "per_category": per_category,
    }


def visible_project_names(user: AbstractBaseUser, pattern: Pattern) -> tuple[list[str], int]:
    """The affected projects the user may see, by name, and how many others there are."""
    affected = pattern.projects.all()
    visible = affected.filter(pk__in=projects_for(user).values("pk"))
    names = sorted(visible.values_list("name", flat=True))
    return names, affected.count() - len(names)
