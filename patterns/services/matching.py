"""Matching: an incoming failure against the active patterns (exact signature first, then a
similar message in the same category), and the `template` fix strategy built on it."""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from itertools import zip_longest

from django.db import connection
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone

from selfheal.engine.fixers.base import Candidate, FixContext, unique_candidates
from selfheal.engine.patch import Patch
from selfheal.engine.templates import (
    Failure,
    Signature,
    TemplateDoesNotApply,
    TemplateError,
    apply_template,
    failure_from,
    signature_of,
    template_from_spec,
)
from selfheal.models import Project

from ..models import FixTemplate, Pattern, PatternStatus
from . import experiments
from .learning import quarantine

logger = logging.getLogger(__name__)

MIN_SIMILARITY = 0.5  # of the normalised messages, for a match that is not exact
SIMILAR_LIMIT = 5
NEAREST_FACTOR = 10  # nearest patterns fetched per match wanted
PYTHON_FALLBACK_LIMIT = 500  # active patterns of the category compared in Python (no pg_trgm)


@dataclass(frozen=True)
class PatternMatch:
    pattern: Pattern
    similarity: float  # 1.0 for the exact signature
    exact: bool


def find_patterns(signature: Signature, limit: int = SIMILAR_LIMIT) -> list[PatternMatch]:
    """Active patterns for a failure, best first: its exact signature, then the most similar
    normalised messages of the same category (pg_trgm on PostgreSQL, difflib elsewhere)."""
    active = Pattern.objects.filter(status=PatternStatus.ACTIVE)
    matches = []
    exact = active.filter(signature=signature.key).first()
    if exact is not None:
        matches.append(PatternMatch(exact, 1.0, True))
    similar = active.filter(category=signature.category)
    if exact is not None:
        similar = similar.exclude(pk=exact.pk)
    if connection.vendor == "postgresql":
        matches += _similar_postgres(similar, signature.normalised_message, limit)
    else:
        matches += _similar_python(similar, signature.normalised_message, limit)
    return matches[:limit]


def _similar_postgres(patterns, message: str, limit: int) -> list[PatternMatch]:
    # The nearest messages by trigram distance (`<->`) alone, so that the GiST index on (category,
    # message) of the active patterns answers the top-k without reading the rest (a second sort key
    # would make PostgreSQL sort the whole category). A few more than needed are fetched so that
    # among equally near ones the most confident can win.
    table = Pattern._meta.db_table
    column = f'"{table}"."normalised_message"'
    nearest = patterns.annotate(
        similarity=RawSQL(f"similarity({column}, %s)", (message,))
    ).order_by(RawSQL(f"{column} <-> %s", (message,)).asc())[: limit * NEAREST_FACTOR]
    found = [PatternMatch(p, float(p.similarity), False) for p in nearest]
    found.sort(key=lambda m: (-m.similarity, -m.pattern.confidence, m.pattern.pk))
    return [m for m in found if m.similarity >= MIN_SIMILARITY][:limit]


def _similar_python(patterns, message: str, limit: int) -> list[PatternMatch]:
    recent = patterns.order_by(F("last_used_at").desc(nulls_last=True), "-confidence")[
        :PYTHON_FALLBACK_LIMIT
    ]
    scored = []
    for pattern in recent:
        ratio = difflib.SequenceMatcher(None, message, pattern.normalised_message).ratio()
        if ratio >= MIN_SIMILARITY:
            scored.append((ratio, pattern))
    scored.sort(key=lambda item: (-item[0], -item[1].confidence, item[1].pk))
    return [PatternMatch(p, r, False) for r, p in scored[:limit]]


class TemplateFixer:
    """The `template` strategy: replay the templates of the active patterns that match the
    failure. Cheap (no sandbox, no model), so the loop tries it first."""

    name = "template"

    def __init__(self, project: Project, max_candidates: int = 5):
        self.project = project
        self.max_candidates = max_candidates
        self.skipped: list[dict] = []  # templates that did not apply this time, with the reason

    def propose(self, context: FixContext) -> list[Candidate]:
        self.skipped = []
        candidates: list[Candidate] = []
        seen_signatures = set()
        for report, classification in zip_longest(context.reports, context.classifications):
            if report is None:
                continue
            failure = failure_from(report, classification, context.files)
            signature = signature_of(failure)
            if signature.key in seen_signatures:
                continue
            seen_signatures.add(signature.key)
            for match in find_patterns(signature):
                candidates += self._candidates(match, failure, context, classification)
        candidates = unique_candidates(candidates)
        for candidate in candidates:
            candidate.metadata["skipped"] = list(self.skipped)
        used = {c.metadata["pattern_id"] for c in candidates}
        if used:
            Pattern.objects.filter(pk__in=used).update(last_used_at=timezone.now())
        return candidates[: self.max_candidates]

    def _candidates(
        self, match: PatternMatch, failure: Failure, context: FixContext, classification
    ) -> list[Candidate]:
        pattern = match.pattern
        applied = []  # (template row, its applications), the pattern's preferred template first
        for row in _templates_in_order(pattern):
            try:
                template = template_from_spec(row.spec)
                applications = apply_template(template, context.files, failure)
            except TemplateError as exc:
                quarantine(pattern.pk, f"template {row.variant} is malformed: {exc}")
                self._skip(pattern.pk, row.pk, f"pattern quarantined: {exc}")
                return []
            except TemplateDoesNotApply as exc:
                self._skip(pattern.pk, row.pk, str(exc))
                continue
            except Exception as exc:  # a bug on unusual code must not stop the other strategies
                logger.exception(
                    "Template %s of pattern #%s failed unexpectedly", row.pk, pattern.pk
                )
                self._skip(pattern.pk, row.pk, f"internal error: {type(exc).__name__}: {exc}")
                continue
            if applications:
                applied.append((row, applications))
        experiment_metadata: dict = {}
        experiment = experiments.open_experiment(pattern) if applied else None
        if experiment is not None:
            # The variants compete: this failure gets one of them, and only that one is proposed.
            applying = {row.pk for row, _ in applied}
            eligible = {v.label for v in experiment.variants.all() if v.template_id in applying}
            assignment = experiments.assign(experiment, self.project, eligible=eligible)
            if assignment is not None:
                applied = [(r, a) for r, a in applied if r.pk == assignment.variant.template_id]
                experiment_metadata = {
                    "experiment_id": experiment.pk,
                    "assignment_id": assignment.pk,
                    "variant": assignment.variant.label,
                }
        found = []
        how = "exact signature" if match.exact else f"similar failure ({match.similarity:.0%})"
        for row, applications in applied:
            for application in applications:
                found.append(
                    Candidate(
                        strategy="template",
                        patch=Patch([application.edit(context.files)]),
                        explanation=(
                            f"Learned pattern #{pattern.pk} ({how}), template {row.variant}: "
                            f"{application.explanation}"
                        ),
                        confidence=pattern.confidence,
                        rule=f"pattern:{pattern.pk}/template:{row.pk}",
                        root_cause=pattern.root_cause
                        or (classification.root_cause if classification else ""),
                        metadata={
                            "pattern_id": pattern.pk,
                            "template_id": row.pk,
                            "variant": row.variant,
                            "match": "exact" if match.exact else "similar",
                            "similarity": round(match.similarity, 3),
                            "bindings": {k: str(v) for k, v in application.bindings.items()},
                            **experiment_metadata,
                        },
                    )
                )
        return found

    def _skip(self, pattern_id: int, template_id: int, reason: str) -> None:
        logger.info("Template %s of pattern #%s skipped: %s", template_id, pattern_id, reason)
        self.skipped.append(
            {"pattern_id": pattern_id, "template_id": template_id, "reason": reason}
        )


def _templates_in_order(pattern: Pattern) -> list[FixTemplate]:
    """The pattern's templates, the one it serves outside experiments (its champion) first, then
    the most confident."""
    rows = list(pattern.templates.order_by("-confidence", "variant"))
    if len(rows) > 1:
        preferred = experiments.preferred_template_id(pattern)
        rows.sort(key=lambda row: row.pk != preferred)
    return rows
