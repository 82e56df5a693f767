"""JSON API of what selfheal has learned: patterns (with their templates and outcomes), stats, and
(from api_experiments) fix-variant experiments and self-improvement runs."""

from datetime import datetime

from django.db.models import Count
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from selfheal.services import projects_for

from .api_experiments import router as experiments_router
from .models import Pattern, PatternStatus
from .services import visible_project_names

router = Router(tags=["patterns"])

MAX_LIMIT = 200
OUTCOMES_SHOWN = 50


class PatternFilters(Schema):
    category: str | None = None
    status: PatternStatus | None = None
    limit: int = 50
    offset: int = 0


class PatternOut(Schema):
    id: int
    category: str
    normalised_message: str
    code_shape: str
    root_cause: str
    status: str
    status_reason: str
    successes: int
    failures: int
    confidence: float
    success_rate: float | None
    templates: int
    last_used_at: datetime | None
    created_at: datetime


class TemplateOut(Schema):
    id: int
    variant: str
    description: str
    spec: dict
    source: str
    occurrences: int
    successes: int
    failures: int
    confidence: float


class OutcomeOut(Schema):
    success: bool
    source: str
    detail: str
    project: str | None  # None for a project the reader may not see
    confidence_after: float
    created_at: datetime


class PatternDetailOut(PatternOut):
    projects_affected: list[str]
    other_projects_affected: int
    template_list: list[TemplateOut]
    outcomes: list[OutcomeOut]


class CategoryStatsOut(Schema):
    category: str
    patterns: int
    active: int
    successes: int
    failures: int
    success_rate: float | None
    average_confidence: float | None


class StatsOut(Schema):
    project: str | None
    patterns_learned: int
    active_patterns: int
    successful_heals: int
    failed_heals: int
    average_confidence: float | None
    success_rate: float | None
    per_category: list[CategoryStatsOut]


def _pattern_row(pattern: Pattern) -> dict:
    return {
        "id": pattern.pk,
        "category": pattern.category,
        "normalised_message": pattern.normalised_message,
        "code_shape": pattern.code_shape,
        "root_cause": pattern.root_cause,
        "status": pattern.status,
        "status_reason": pattern.status_reason,
        "successes": pattern.successes,
        "failures": pattern.failures,
        "confidence": pattern.confidence,
        "success_rate": pattern.success_rate,
        "templates": getattr(pattern, "template_count", None) or pattern.templates.count(),
        "last_used_at": pattern.last_used_at,
        "created_at": pattern.created_at,
    }


@router.get("/patterns", response=list[PatternOut])
def list_patterns(request: HttpRequest, filters: Query[PatternFilters]):
    """Learned patterns, most confident first; patterns are shared by every project."""
    if not 1 <= filters.limit <= MAX_LIMIT or filters.offset < 0:
        raise HttpError(400, f"limit must be 1..{MAX_LIMIT} and offset >= 0.")
    patterns = Pattern.objects.all()
    if filters.category:
        patterns = patterns.filter(category=filters.category)
    if filters.status:
        patterns = patterns.filter(status=filters.status)
    patterns = patterns.annotate(template_count=Count("templates")).order_by("-confidence", "-pk")
    return [_pattern_row(p) for p in patterns[filters.offset : filters.offset + filters.limit]]


@router.get("/patterns/{pattern_id}", response=PatternDetailOut)
def get_pattern(request: HttpRequest, pattern_id: int):
    """A pattern with its templates and latest outcomes. Projects are named only where the reader
    may see them."""
    pattern = get_object_or_404(Pattern, pk=pattern_id)
    visible = set(projects_for(request.user).values_list("pk", flat=True))
    names, others = visible_project_names(request.user, pattern)
    outcomes = pattern.outcomes.select_related("project")[:OUTCOMES_SHOWN]
    return {
        **_pattern_row(pattern),
        "projects_affected": names,
        "other_projects_affected": others,
        "template_list": list(pattern.templates.all()),
        "outcomes": [
            {
                "success": o.success,
                "source": o.source,
                "detail": o.detail if o.project_id in visible else "",
                "project": o.project.name if o.project_id in visible else None,
                "confidence_after": o.confidence_after,
                "created_at": o.created_at,
            }
            for o in outcomes
        ],
    }


router.add_router("", experiments_router)
