"""Learning: a fix that made the tests pass becomes a template of a pattern; every outcome moves
the pattern's confidence; unused or unreliable patterns are deprecated."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from itertools import zip_longest

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from selfheal.engine import stats
from selfheal.engine.fixers.base import Candidate, FixContext
from selfheal.engine.security import BLOCKED, review_patch
from selfheal.engine.templates import (
    ExtractionFailed,
    Failure,
    Signature,
    Template,
    extract_template,
    failure_from,
    signature_of,
)
from selfheal.models import Project, Role
from selfheal.services import AccessDenied, ProjectNotFound, require_role

from ..models import FixTemplate, IllegalTransition, Pattern, PatternOutcome, PatternStatus
from . import experiments

logger = logging.getLogger(__name__)

LEARN_SOURCES = ("rules", "llm", "mutation", "human", "revert", "template")
# A pattern turns active after this many successful fixes from as many distinct failures.
ACTIVATION_SUCCESSES = 2


def _setting(name: str, default):
    return getattr(settings, name, default)


def _learned(context: FixContext, candidate: Candidate) -> tuple[Template, Failure] | None:
    """The first failure of the run whose fix reduces to a template."""
    reasons = []
    for report, classification in zip_longest(context.reports, context.classifications):
        if report is None:
            continue
        failure = failure_from(report, classification, context.files)
        try:
            return extract_template(context.files, candidate.patch.edits, failure), failure
        except ExtractionFailed as exc:
            reasons.append(str(exc))
        except Exception:  # learning is a bonus: it must never break the heal it learns from
            logger.exception("Template extraction failed on a %s fix", candidate.strategy)
            return None
    logger.info(
        "Nothing to learn from the %s fix: %s",
        candidate.strategy,
        "; ".join(reasons) or "no failure",
    )
    return None


def occurrence_key(
    project: Project, signature: Signature, failure: Failure, files: dict[str, str]
) -> str:
    """One failure in one project's code: learning the same fix of it twice counts once."""
    code = files.get(failure.path or "", "")
    raw = f"{project.pk}\n{signature.key}\n{failure.path}\n{failure.message}\n{code}"
    return hashlib.sha256(raw.encode()).hexdigest()


def learn_from_fix(
    project: Project, context: FixContext, candidate: Candidate, source: str
) -> Pattern | None:
    """A fix from `source` made the tests pass: record it under its pattern (created if new).

    Returns the pattern, or None when the fix does not reduce to a template (several files, code
    that does not parse, ...) or its security review blocks it.
    """
    if candidate.strategy == "template" and candidate.metadata.get("pattern_id"):
        outcome = record_outcome(
            candidate.metadata["pattern_id"], True, project=project, source="template",
            detail="the template's fix made the tests pass",
            template_id=candidate.metadata.get("template_id"),
            assignment_id=candidate.metadata.get("assignment_id"),
        )  # fmt: skip
        return outcome.pattern if outcome else None
    review = review_patch(candidate.patch, context.files)
    if review.verdict == BLOCKED:
        logger.warning("Not learning from a blocked fix: %s", "; ".join(review.reasons))
        return None
    learned = _learned(context, candidate)
    if learned is None:
        return None
    template, failure = learned
    signature = signature_of(failure)
    occurrence = occurrence_key(project, signature, failure, context.files)
    root_cause = candidate.root_cause or next(
        (c.root_cause for c in context.classifications if c), ""
    )
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _record_learned(
                    project, signature, template, failure, occurrence, source, root_cause
                )
        except IntegrityError:
            if attempt:  # a concurrent learner created the same rows twice in a row: give up
                raise
            continue  # a concurrent learner created the pattern or template first: find it now
    return None


def _find_or_create_pattern(signature: Signature, template: Template) -> Pattern:
    """The pattern of this signature; else one of the same category and message that already
    holds this very template (the same fix of the same error, seen in differently shaped code)."""
    pattern = Pattern.objects.select_for_update().filter(signature=signature.key).first()
    if pattern is None:
        pattern = (
            Pattern.objects.select_for_update()
            .filter(
                category=signature.category,
                normalised_message=signature.normalised_message,
                templates__key=template.key,
            )
            .exclude(status=PatternStatus.QUARANTINED)
            .order_by("pk")
            .first()
        )
    if pattern is None:
        pattern = Pattern.objects.create(
            signature=signature.key,
            category=signature.category,
            normalised_message=signature.normalised_message,
            code_shape=signature.shape,
        )
    return pattern


def _record_learned(
    project: Project,
    signature: Signature,
    template: Template,
    failure: Failure,
    occurrence: str,
    source: str,
    root_cause: str,
) -> Pattern:
    pattern = _find_or_create_pattern(signature, template)
    fix_template = FixTemplate.objects.filter(pattern=pattern, key=template.key).first()
    if fix_template is None:
        fix_template = FixTemplate.objects.create(
            pattern=pattern,
            key=template.key,
            spec=template.spec,
            description=template.description,
            source=source,
            variant=_next_variant(pattern),
        )
        # A second way to fix the same failure: the templates compete as fix variants.
        experiments.start_pattern_experiment(pattern.pk)
    pattern.projects.add(project)
    if pattern.outcomes.filter(occurrence=occurrence, success=True).exists():
        return pattern  # this very failure was learned before
    if not pattern.root_cause and root_cause:
        pattern.root_cause = root_cause[:2000]
    if pattern.status == PatternStatus.DEPRECATED:
        pattern.transition_to(PatternStatus.CANDIDATE, f"learned again from a {source} fix")
    pattern.save()
    fix_template.occurrences += 1
    fix_template.save(update_fields=["occurrences"])
    _add_outcome(pattern, fix_template, project, True, f"learned:{source}",
                 f"{failure.exc_type}: {failure.message}", occurrence=occurrence)  # fmt: skip
    _maybe_activate(pattern)
    return pattern


def _next_variant(pattern: Pattern) -> str:
    count = pattern.templates.count()
    label = ""
    while True:
        label = chr(ord("A") + count % 26) + label
        count = count // 26 - 1
        if count < 0:
            return label


def _maybe_activate(pattern: Pattern) -> None:
    if pattern.status != PatternStatus.CANDIDATE:
        return
    learned = pattern.outcomes.filter(success=True).exclude(occurrence="")
    occurrences = learned.values("occurrence").distinct().count()
    if pattern.successes >= ACTIVATION_SUCCESSES and occurrences >= ACTIVATION_SUCCESSES:
        pattern.transition_to(
            PatternStatus.ACTIVE,
            f"{learned.count()} successful fixes from {occurrences} distinct failures",
        )
        pattern.save(update_fields=["status", "status_reason", "updated_at"])
        logger.info("Pattern #%s is active: %s", pattern.pk, pattern.status_reason)


def _add_outcome(
    pattern: Pattern,
    template: FixTemplate | None,
    project: Project | None,
    success: bool,
    source: str,
    detail: str,
    occurrence: str = "",
) -> PatternOutcome:
    """Count one outcome on the pattern (and template), locked rows: the confidence is the Beta(1, 1)
    posterior mean of all of them."""
    now = timezone.now()
    if success:
        pattern.successes += 1
    else:
        pattern.failures += 1
    pattern.confidence = stats.beta_mean(pattern.successes, pattern.failures)
    pattern.last_used_at = now
    pattern.save(
        update_fields=["successes", "failures", "confidence", "last_used_at", "updated_at"]
    )
    if template is not None:
        if success:
            template.successes += 1
        else:
            template.failures += 1
        template.confidence = stats.beta_mean(template.successes, template.failures)
        template.last_used_at = now
        template.save(update_fields=["successes", "failures", "confidence", "last_used_at"])
    return PatternOutcome.objects.create(
        pattern=pattern,
        template=template,
        project=project,
        success=success,
        source=source[:30],
        occurrence=occurrence,
        detail=detail[:4000],
        confidence_after=pattern.confidence,
    )


@transaction.atomic
def record_outcome(
    pattern_id: int,
    success: bool,
    *,
    project: Project | None,
    source: str,
    detail: str = "",
    template_id: int | None = None,
    assignment_id: int | None = None,
) -> PatternOutcome | None:
    """One outcome of a pattern's use (a template tried by the loop, a review, ...). Returns None
    when the pattern no longer exists.

    A template's outcome also settles its fix-variant assignment: the one named (the candidate's
    `assignment_id`), else the newest pending one of that template in that project."""
    pattern = Pattern.objects.select_for_update().filter(pk=pattern_id).first()
    if pattern is None:
        logger.warning("Outcome for pattern #%s, which no longer exists, dropped", pattern_id)
        return None
    template = None
    if template_id is not None:
        template = (
            FixTemplate.objects.select_for_update().filter(pk=template_id, pattern=pattern).first()
        )
    outcome = _add_outcome(pattern, template, project, success, source, detail)
    if template is not None:
        experiments.record_template_outcome(template.pk, project, success, assignment_id)
    if project is not None:
        pattern.projects.add(project)
    return outcome


def record_review(
    pattern_id: int, approved: bool, reviewer: AbstractBaseUser, project: Project
) -> PatternOutcome | None:
    """A person approved (a success) or rejected (a failure) a fix made by this pattern. Only the
    project's reviewers and admins may."""
    try:
        require_role(reviewer, project, Role.REVIEWER)
    except ProjectNotFound as exc:
        raise AccessDenied(f"{reviewer} is not a reviewer of project {project.slug!r}.") from exc
    verb = "approved" if approved else "rejected"
    return record_outcome(pattern_id, approved, project=project, source="review",
                          detail=f"{verb} by {reviewer}")  # fmt: skip


@transaction.atomic
def set_status(pattern_id: int, status: str, reason: str) -> Pattern:
    pattern = Pattern.objects.select_for_update().get(pk=pattern_id)
    pattern.transition_to(status, reason)
    pattern.save(update_fields=["status", "status_reason", "updated_at"])
    logger.info("Pattern #%s is %s: %s", pattern.pk, status, reason)
    return pattern


def quarantine(pattern_id: int, reason: str) -> Pattern | None:
    """Take a pattern with a malformed template out of use; a person releases it."""
    try:
        return set_status(pattern_id, PatternStatus.QUARANTINED, reason)
    except (Pattern.DoesNotExist, IllegalTransition) as exc:  # gone, or already quarantined
        logger.warning("Could not quarantine pattern #%s: %s", pattern_id, exc)
        return None


def decay_patterns(now: datetime | None = None) -> list[Pattern]:
    """Deprecate patterns unused for PATTERNS_DECAY_DAYS, and those whose confidence fell below
    PATTERNS_CONFIDENCE_FLOOR after at least PATTERNS_FLOOR_MIN_OUTCOMES outcomes."""
    now = now or timezone.now()
    days = _setting("PATTERNS_DECAY_DAYS", 90)
    floor = _setting("PATTERNS_CONFIDENCE_FLOOR", 0.3)
    min_outcomes = _setting("PATTERNS_FLOOR_MIN_OUTCOMES", 5)
    cutoff = now - timedelta(days=days)
    live = Pattern.objects.filter(status__in=[PatternStatus.CANDIDATE, PatternStatus.ACTIVE])
    unused = live.filter(
        Q(last_used_at__lt=cutoff) | Q(last_used_at__isnull=True, created_at__lt=cutoff)
    )
    deprecated = []
    for pattern_id in unused.values_list("pk", flat=True):
        deprecated.append(
            set_status(pattern_id, PatternStatus.DEPRECATED, f"unused for {days} days")
        )
    failing = live.filter(confidence__lt=floor).exclude(pk__in=[p.pk for p in deprecated])
    for pattern in failing:
        if pattern.outcomes_count >= min_outcomes:
            deprecated.append(
                set_status(
                    pattern.pk,
                    PatternStatus.DEPRECATED,
                    f"confidence {pattern.confidence:.2f} fell below the floor {floor:.2f} "
                    f"after {pattern.outcomes_count} outcomes",
                )
            )
    return deprecated
