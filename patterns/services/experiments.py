"""Fix variants (A/B): experiments over a pattern's templates (or an LLM prompt's variants), the
variant each eligible failure gets, the outcomes, the winner test and the winner's rollout. The
decisions are selfheal.engine.experiments; here they are stored, with a reason for each."""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from selfheal.engine import experiments as engine
from selfheal.engine.fixers.base import Unfixable
from selfheal.models import Project

from ..models import (
    OPEN_EXPERIMENT,
    Allocation,
    Assignment,
    DecisionMethod,
    Experiment,
    ExperimentStatus,
    ExperimentVariant,
    FixTemplate,
    Pattern,
    PatternStatus,
    RolloutStep,
    StepStatus,
)

logger = logging.getLogger(__name__)

# An outcome reported without its assignment (only the template) settles the newest pending
# assignment of that template in that project made this recently: the same auto-fix run.
MATCH_WINDOW = timedelta(hours=6)
FINISHED_CHAMPION_STATUSES = [
    ExperimentStatus.COMPLETED,
    ExperimentStatus.INCONCLUSIVE,
    ExperimentStatus.ROLLED_BACK,
    ExperimentStatus.STOPPED,
]

_rng = random.Random()


class ExperimentInvalid(ValueError):
    """The experiment asked for cannot exist (fewer than two variants, shares not summing to 1,
    ...): the message says why."""


class ExperimentConflict(Exception):
    """The action does not fit the experiment's state (a rollout step on a finished experiment,
    a second open experiment on the same pattern, ...)."""


@dataclass(frozen=True)
class VariantSpec:
    label: str
    template_id: int | None = None
    share: float | None = None
    description: str = ""


# --- Creating experiments -----------------------------------------------------------------------


def _check_variants(
    variants: Sequence[VariantSpec], pattern: Pattern | None, allocation: str | None
) -> str:
    """Validate the variants; returns the allocation (fixed when shares are given)."""
    if len(variants) < 2:
        raise ExperimentInvalid(f"an experiment needs at least two variants; {len(variants)} given")
    labels = [v.label.strip() for v in variants]
    if any(not label or len(label) > 50 for label in labels):
        raise ExperimentInvalid("every variant needs a label of 1 to 50 characters")
    if len(set(labels)) != len(labels):
        raise ExperimentInvalid("variant labels must be unique")
    given = [v.share is not None for v in variants]
    if any(given) and not all(given):
        raise ExperimentInvalid("give a share for every variant, or for none")
    allocation = allocation or (Allocation.FIXED if all(given) else Allocation.THOMPSON)
    if allocation not in Allocation.values:
        raise ExperimentInvalid(f"allocation is one of {', '.join(Allocation.values)}")
    if allocation == Allocation.FIXED:
        if not all(given):
            raise ExperimentInvalid("fixed allocation needs a share for every variant")
        try:
            engine.check_shares(labels, {v.label.strip(): v.share for v in variants})
        except ValueError as exc:
            raise ExperimentInvalid(str(exc)) from None
    elif any(given):
        raise ExperimentInvalid("shares are for fixed allocation; Thompson sampling sets its own")
    template_ids = [v.template_id for v in variants]
    if pattern is None:
        if any(t is not None for t in template_ids):
            raise ExperimentInvalid("the variants of a prompt experiment name no template")
        return allocation
    if any(t is None for t in template_ids):
        raise ExperimentInvalid("every variant of a pattern experiment names one of its templates")
    if len(set(template_ids)) != len(template_ids):
        raise ExperimentInvalid("two variants name the same template")
    known = set(pattern.templates.filter(pk__in=template_ids).values_list("pk", flat=True))
    unknown = [str(t) for t in template_ids if t not in known]
    if unknown:
        raise ExperimentInvalid(
            f"template(s) {', '.join(unknown)} are not templates of pattern #{pattern.pk}"
        )
    return allocation


def create_experiment(
    variants: Sequence[VariantSpec],
    *,
    pattern: Pattern | None = None,
    prompt: str = "",
    name: str = "",
    allocation: str | None = None,
    method: str = DecisionMethod.FISHER,
    min_samples_per_arm: int = 30,
    step_min_outcomes: int = 20,
    champion: str | None = None,
) -> Experiment:
    """An experiment over a pattern's templates or an LLM prompt's variants. The champion (the
    variant in use until now, which keeps the traffic a rollout does not give the winner) is the
    pattern's preferred template unless named."""
    prompt = prompt.strip()
    if (pattern is None) == (not prompt):
        raise ExperimentInvalid("an experiment is about a pattern or a prompt (exactly one)")
    if method not in DecisionMethod.values:
        raise ExperimentInvalid(f"method is one of {', '.join(DecisionMethod.values)}")
    allocation = _check_variants(variants, pattern, allocation)
    labels = [v.label.strip() for v in variants]
    if champion is not None and champion not in labels:
        raise ExperimentInvalid(f"the champion {champion!r} is not one of the variants")
    try:
        with transaction.atomic():
            experiment = Experiment(
                name=(name or _default_name(pattern, prompt))[:200],
                pattern=pattern,
                prompt=prompt,
                allocation=allocation,
                method=method,
                min_samples_per_arm=min_samples_per_arm,
                step_min_outcomes=step_min_outcomes,
                status_reason="variants compete",
            )
            try:
                experiment.full_clean(validate_constraints=False)
            except ValidationError as exc:
                raise ExperimentInvalid(
                    "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
                ) from None
            experiment.save()
            rows = [
                ExperimentVariant.objects.create(
                    experiment=experiment,
                    label=label,
                    template_id=spec.template_id,
                    share=spec.share if allocation == Allocation.FIXED else None,
                    description=spec.description or _template_description(spec.template_id),
                )
                for label, spec in zip(labels, variants, strict=True)
            ]
            experiment.champion = _champion_of(rows, champion, pattern)
            experiment.save(update_fields=["champion"])
    except IntegrityError:
        raise ExperimentConflict(
            f"{'pattern #' + str(pattern.pk) if pattern else 'prompt ' + repr(prompt)} already "
            "has an open experiment"
        ) from None
    logger.info("Experiment #%s started: %s", experiment.pk, experiment.name)
    return experiment


def _default_name(pattern: Pattern | None, prompt: str) -> str:
    if pattern is not None:
        return f"Templates of pattern #{pattern.pk} ({pattern.category})"
    return f"Prompt {prompt}"


def _template_description(template_id: int | None) -> str:
    if template_id is None:
        return ""
    return FixTemplate.objects.filter(pk=template_id).values_list("description", flat=True)[0]


def _champion_of(
    rows: list[ExperimentVariant], label: str | None, pattern: Pattern | None
) -> ExperimentVariant:
    if label is not None:
        return next(row for row in rows if row.label == label)
    if pattern is not None:
        preferred = preferred_template_id(pattern)
        for row in rows:
            if row.template_id == preferred:
                return row
    return rows[0]


def preferred_template_id(pattern: Pattern) -> int | None:
    """The template a pattern serves when no experiment splits its traffic: the champion its
    latest finished experiment left in place (the winner, once fully rolled out), else its most
    confident template."""
    latest = (
        pattern.experiments.filter(status__in=FINISHED_CHAMPION_STATUSES)
        .select_related("champion", "winner")
        .order_by("-finished_at", "-pk")
        .first()
    )
    if latest is not None:
        served = latest.winner if latest.status == ExperimentStatus.COMPLETED else latest.champion
        if served is not None and served.template_id is not None:
            return served.template_id
    return pattern.templates.order_by("-confidence", "variant").values_list("pk", flat=True).first()


def start_pattern_experiment(pattern_id: int) -> Experiment | None:
    """Start an experiment when a live pattern has a template no experiment has compared yet and
    another to compare it with: the pattern's champion against the newcomers. None otherwise."""
    with transaction.atomic():
        pattern = (
            Pattern.objects.select_for_update()
            .filter(pk=pattern_id, status__in=[PatternStatus.CANDIDATE, PatternStatus.ACTIVE])
            .first()
        )
        if pattern is None or pattern.experiments.filter(status__in=OPEN_EXPERIMENT).exists():
            return None
        templates = list(pattern.templates.order_by("variant"))
        compared = set(
            ExperimentVariant.objects.filter(
                experiment__pattern=pattern, template__isnull=False
            ).values_list("template_id", flat=True)
        )
        newcomers = [t for t in templates if t.pk not in compared]
        if not newcomers or len(templates) < 2:
            return None
        # The champion (what the pattern serves now) against every newcomer; with no champion
        # outside the newcomers, the most confident template already compared joins them.
        champion_id = preferred_template_id(pattern)
        chosen = list(newcomers)
        if champion_id not in {t.pk for t in chosen}:
            chosen.insert(0, next(t for t in templates if t.pk == champion_id))
        elif len(chosen) < 2:
            ranked = sorted(templates, key=lambda t: (-t.confidence, t.variant))
            chosen.insert(0, next(t for t in ranked if t.pk not in {c.pk for c in chosen}))
        champion = next(t.variant for t in chosen if t.pk == champion_id)
        return create_experiment(
            [VariantSpec(t.variant, t.pk) for t in chosen], pattern=pattern, champion=champion
        )


def ensure_pattern_experiments() -> list[Experiment]:
    """Start the experiments live patterns with uncompared templates are owed."""
    uncompared = (
        FixTemplate.objects.filter(
            pattern__status__in=[PatternStatus.CANDIDATE, PatternStatus.ACTIVE],
            experiment_variants__isnull=True,
        )
        .values_list("pattern_id", flat=True)
        .distinct()
    )
    competing = (
        FixTemplate.objects.filter(pattern_id__in=uncompared)
        .values("pattern_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=2)
        .values_list("pattern_id", flat=True)
    )
    started = []
    for pattern_id in competing:
        experiment = start_pattern_experiment(pattern_id)
        if experiment is not None:
            started.append(experiment)
    return started


# --- Counts -------------------------------------------------------------------------------------


def _counts(experiment: Experiment) -> dict[tuple[int, int], tuple[int, int]]:
    """(variant id, rollout percent) -> (trials, successes) of the resolved assignments."""
    rows = (
        Assignment.objects.filter(experiment=experiment, success__isnull=False)
        .values("variant_id", "rollout_percent")
        .annotate(trials=Count("pk"), successes=Count("pk", filter=Q(success=True)))
        .order_by()
    )
    return {(r["variant_id"], r["rollout_percent"]): (r["trials"], r["successes"]) for r in rows}


def _arm(
    variant: ExperimentVariant, counts: dict, percents: Collection[int] | None = None
) -> engine.Arm:
    trials = successes = 0
    for (variant_id, percent), (t, s) in counts.items():
        if variant_id == variant.pk and (percents is None or percent in percents):
            trials, successes = trials + t, successes + s
    return engine.Arm(variant.label, successes, trials)


def _exploring_variants(experiment: Experiment, variants: list[ExperimentVariant]) -> list:
    if experiment.allocation == Allocation.FIXED:
        return [v for v in variants if (v.share or 0) > 0]
    return variants


@dataclass
class VariantNumbers:
    label: str
    description: str
    template_id: int | None
    trials: int  # every resolved assignment, exploring and rollout
    successes: int
    rate: float | None
    interval: tuple[float, float] | None  # 95% Wilson
    exploring_trials: int
    exploring_successes: int
    share: float | None  # of the traffic now; None under Thompson sampling (it moves)
    champion: bool
    winner: bool


def traffic_shares(experiment: Experiment, variants: list[ExperimentVariant]) -> dict[str, float]:
    """Each variant's share of the traffic now; empty while Thompson sampling decides."""
    if experiment.status == ExperimentStatus.EXPLORING:
        if experiment.allocation == Allocation.FIXED:
            return {v.label: v.share or 0.0 for v in variants}
        return {}
    shares = {v.label: 0.0 for v in variants}
    if experiment.status == ExperimentStatus.ROLLING_OUT:
        shares[experiment.winner.label] = experiment.rollout_percent / 100
        shares[experiment.champion.label] = 1 - experiment.rollout_percent / 100
    elif experiment.status == ExperimentStatus.COMPLETED and experiment.winner:
        shares[experiment.winner.label] = 1.0
    elif experiment.champion:
        shares[experiment.champion.label] = 1.0
    return shares


def variant_numbers(experiment: Experiment) -> list[VariantNumbers]:
    """Per variant: trials, successes, success rate with its 95% interval, share of traffic."""
    variants = list(experiment.variants.all())
    counts = _counts(experiment)
    shares = traffic_shares(experiment, variants)
    numbers = []
    for variant in variants:
        total = _arm(variant, counts)
        exploring = _arm(variant, counts, (0,))
        numbers.append(
            VariantNumbers(
                label=variant.label,
                description=variant.description,
                template_id=variant.template_id,
                trials=total.trials,
                successes=total.successes,
                rate=total.rate,
                interval=total.interval,
                exploring_trials=exploring.trials,
                exploring_successes=exploring.successes,
                share=shares.get(variant.label),
                champion=variant.pk == experiment.champion_id,
                winner=variant.pk == experiment.winner_id,
            )
        )
    return numbers


# --- Assignment and outcomes --------------------------------------------------------------------


def open_experiment(pattern: Pattern) -> Experiment | None:
    return (
        pattern.experiments.filter(status__in=OPEN_EXPERIMENT)
        .select_related("champion", "winner")
        .prefetch_related("variants")
        .first()
    )


def assign(
    experiment: Experiment,
    project: Project | None,
    *,
    eligible: Collection[str] | None = None,
    rng: random.Random | None = None,
    now: datetime | None = None,
) -> Assignment | None:
    """Give one failure a variant and record it. `eligible`: the variants that can fix this very
    failure (their template applies); the failure takes part only when every variant that gets
    traffic now is eligible, so the comparison stays fair. None when it does not take part."""
    rng = rng or _rng
    variants = list(experiment.variants.all())
    by_label = {v.label: v for v in variants}
    if experiment.status == ExperimentStatus.EXPLORING:
        competing = _exploring_variants(experiment, variants)
        if eligible is not None and any(v.label not in eligible for v in competing):
            return None
        counts = _counts(experiment)
        label = engine.choose_variant(
            [_arm(v, counts, (0,)) for v in competing],
            rng,
            allocation=experiment.allocation,
            shares={v.label: v.share or 0.0 for v in competing},
            min_trials=engine.next_look_size(experiment.looks_done, experiment.min_samples_per_arm),
        )
    elif experiment.status == ExperimentStatus.ROLLING_OUT:
        winner, champion = experiment.winner, experiment.champion
        if eligible is not None and not {winner.label, champion.label} <= set(eligible):
            return None
        label = engine.rollout_choice(winner.label, champion.label, experiment.rollout_percent, rng)
    else:
        return None
    return Assignment.objects.create(
        experiment=experiment,
        variant=by_label[label],
        project=project,
        rollout_percent=experiment.rollout_percent,
        assigned_at=now or timezone.now(),
    )


def assign_prompt_variant(
    prompt: str, project: Project | None, rng: random.Random | None = None
) -> Assignment | None:
    """The variant of an LLM prompt for one failure, when an experiment on that prompt is open.
    The caller reports the outcome with record_assignment_outcome."""
    experiment = (
        Experiment.objects.filter(prompt=prompt, status__in=OPEN_EXPERIMENT)
        .select_related("champion", "winner")
        .first()
    )
    return assign(experiment, project, rng=rng) if experiment else None


def record_assignment_outcome(
    assignment_id: int, success: bool, now: datetime | None = None
) -> Assignment | None:
    """The outcome of an assigned failure. Only the first outcome counts (a retry of the same
    failure is not a new trial); None when the assignment no longer exists."""
    with transaction.atomic():
        assignment = Assignment.objects.select_for_update().filter(pk=assignment_id).first()
        if assignment is None or assignment.success is not None:
            return assignment
        assignment.success = success
        assignment.resolved_at = now or timezone.now()
        assignment.save(update_fields=["success", "resolved_at"])
    return assignment


def record_template_outcome(
    template_id: int,
    project: Project | None,
    success: bool,
    assignment_id: int | None = None,
    now: datetime | None = None,
) -> Assignment | None:
    """A template's outcome, as the pattern services hear it: the assignment named, or else the
    newest pending assignment of that template in that project (the run that tried it)."""
    now = now or timezone.now()
    pending = Assignment.objects.filter(variant__template_id=template_id)
    if assignment_id is not None:
        pending = pending.filter(pk=assignment_id)
    else:
        pending = pending.filter(
            success__isnull=True,
            project=project,
            experiment__status__in=OPEN_EXPERIMENT,
            assigned_at__gte=now - MATCH_WINDOW,
        ).order_by("-assigned_at", "-pk")
    found = pending.values_list("pk", flat=True).first()
    return record_assignment_outcome(found, success, now) if found else None


# --- The winner test and the rollout ------------------------------------------------------------


@dataclass
class CheckResult:
    experiment_id: int
    action: str  # "hold", "winner", "inconclusive", "advance", "complete", "roll_back", "closed"
    reason: str


def check_experiment(experiment_id: int, now: datetime | None = None) -> CheckResult:
    """Look at one open experiment: declare a winner (and start its rollout), or judge the
    current rollout step (hold, advance, complete, roll back)."""
    now = now or timezone.now()
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        if experiment.status == ExperimentStatus.EXPLORING:
            return _decide(experiment, now)
        if experiment.status == ExperimentStatus.ROLLING_OUT:
            return _judge(experiment, now)
        return CheckResult(experiment.pk, "closed", f"the experiment is {experiment.status}")


def _finish(experiment: Experiment, status: str, reason: str, now: datetime) -> None:
    experiment.transition_to(status, reason)
    experiment.finished_at = now


def _decide(experiment: Experiment, now: datetime) -> CheckResult:
    variants = list(experiment.variants.all())
    counts = _counts(experiment)
    decision = engine.decide_winner(
        [_arm(v, counts, (0,)) for v in _exploring_variants(experiment, variants)],
        experiment.method,
        min_trials=experiment.min_samples_per_arm,
        looks_done=experiment.looks_done,
    )
    experiment.looks_done, experiment.decision = decision.look, decision.reason
    action = "hold"
    if decision.winner is not None:
        winner = next(v for v in variants if v.label == decision.winner)
        experiment.winner, experiment.decided_at = winner, now
        if winner.pk == experiment.champion_id:
            _finish(experiment, ExperimentStatus.COMPLETED,
                    f"the champion {winner.label} won: nothing to roll out", now)  # fmt: skip
            action = "winner"
        else:
            first = engine.ROLLOUT_STEPS[0]
            experiment.transition_to(
                ExperimentStatus.ROLLING_OUT, f"{winner.label} won; rolling out at {first}%"
            )
            experiment.rollout_percent = first
            RolloutStep.objects.create(experiment=experiment, percent=first, started_at=now)
            action = "winner"
        logger.info("Experiment #%s: %s", experiment.pk, decision.reason)
    elif decision.final:
        _finish(experiment, ExperimentStatus.INCONCLUSIVE,
                f"no winner; the champion stays ({decision.reason})", now)  # fmt: skip
        action = "inconclusive"
    experiment.save()
    return CheckResult(experiment.pk, action, decision.reason)


def _judge(experiment: Experiment, now: datetime) -> CheckResult:
    counts = _counts(experiment)
    winner, champion = experiment.winner, experiment.champion
    step = experiment.steps.get(percent=experiment.rollout_percent)
    step_arm = _arm(winner, counts, (step.percent,))
    champion_arm = _arm(champion, counts)
    verdict = engine.judge_step(
        step.percent, step_arm, champion_arm, experiment.method,
        min_outcomes=experiment.step_min_outcomes,
    )  # fmt: skip
    step.winner_trials, step.winner_successes = step_arm.trials, step_arm.successes
    step.champion_trials, step.champion_successes = champion_arm.trials, champion_arm.successes
    step.reason = verdict.reason
    if verdict.action == engine.ROLL_BACK:
        step.status, step.finished_at = StepStatus.ROLLED_BACK, now
        _finish(experiment, ExperimentStatus.ROLLED_BACK,
                f"rolled back at {step.percent}%: {verdict.reason}", now)  # fmt: skip
        logger.warning("Experiment #%s rolled back: %s", experiment.pk, verdict.reason)
    elif verdict.action == engine.ADVANCE:
        _advance(experiment, step, verdict.reason, now)
    elif verdict.action == engine.COMPLETE:
        step.status, step.finished_at = StepStatus.PASSED, now
        _finish(experiment, ExperimentStatus.COMPLETED,
                f"{winner.label} serves all traffic: {verdict.reason}", now)  # fmt: skip
    step.save()
    experiment.save()
    return CheckResult(experiment.pk, verdict.action, verdict.reason)


def _advance(experiment: Experiment, step: RolloutStep, reason: str, now: datetime) -> None:
    step.status, step.finished_at = StepStatus.PASSED, now
    following = engine.next_step(step.percent)
    experiment.rollout_percent = following
    experiment.status_reason = f"{experiment.winner.label} at {following}%: {reason}"
    RolloutStep.objects.create(experiment=experiment, percent=following, started_at=now)


# --- A person's actions -------------------------------------------------------------------------


def _locked_open(experiment_id: int, action: str) -> Experiment:
    experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
    if not experiment.is_open:
        raise ExperimentConflict(
            f"experiment #{experiment.pk} is {experiment.status}: {action} is refused on a "
            "finished experiment"
        )
    return experiment


@transaction.atomic
def advance(
    experiment_id: int, actor: str, note: str = "", now: datetime | None = None
) -> Experiment:
    """Move a rollout to its next step (or complete it after 100%) without waiting for outcomes."""
    now = now or timezone.now()
    experiment = _locked_open(experiment_id, "a rollout step")
    if experiment.status != ExperimentStatus.ROLLING_OUT:
        raise ExperimentConflict(
            f"experiment #{experiment.pk} has no winner yet, so there is no rollout to advance "
            f"({experiment.decision or 'no look yet'})"
        )
    step = experiment.steps.get(percent=experiment.rollout_percent)
    reason = f"advanced by {actor}" + (f": {note}" if note else "")
    step.reason = reason
    if engine.next_step(step.percent) is None:
        step.status, step.finished_at = StepStatus.PASSED, now
        _finish(experiment, ExperimentStatus.COMPLETED,
                f"{experiment.winner.label} serves all traffic ({reason})", now)  # fmt: skip
    else:
        _advance(experiment, step, reason, now)
    step.save()
    experiment.save()
    return experiment


@transaction.atomic
def roll_back(
    experiment_id: int, actor: str, reason: str, now: datetime | None = None
) -> Experiment:
    """Give all traffic back to the champion, for a reason a person saw."""
    now = now or timezone.now()
    experiment = _locked_open(experiment_id, "a rollback")
    if experiment.status != ExperimentStatus.ROLLING_OUT:
        raise ExperimentConflict(
            f"experiment #{experiment.pk} is still exploring: nothing is rolled out (stop it instead)"
        )
    why = f"rolled back by {actor}" + (f": {reason}" if reason else "")
    experiment.steps.filter(percent=experiment.rollout_percent).update(
        status=StepStatus.ROLLED_BACK, finished_at=now, reason=why
    )
    _finish(experiment, ExperimentStatus.ROLLED_BACK,
            f"rolled back at {experiment.rollout_percent}% by {actor}: {reason}", now)  # fmt: skip
    experiment.save()
    return experiment


@transaction.atomic
def stop(experiment_id: int, actor: str, reason: str, now: datetime | None = None) -> Experiment:
    """End an open experiment; the champion keeps (or gets back) all traffic."""
    now = now or timezone.now()
    experiment = _locked_open(experiment_id, "stopping")
    experiment.steps.filter(status=StepStatus.HOLDING).update(
        status=StepStatus.STOPPED, finished_at=now, reason=f"stopped by {actor}"
    )
    _finish(experiment, ExperimentStatus.STOPPED, f"stopped by {actor}: {reason}", now)
    experiment.save()
    return experiment


# --- Quality checks -----------------------------------------------------------------------------


@dataclass
class QualityReport:
    stopped: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "stopped": self.stopped,
            "started": self.started,
            "checked": len(self.checks),
            "actions": {str(c.experiment_id): c.action for c in self.checks},
            "rolled_back": [c.experiment_id for c in self.checks if c.action == engine.ROLL_BACK],
            "detail": "; ".join(f"#{c.experiment_id} {c.action}: {c.reason}" for c in self.checks)
            or "no open experiment",
        }


def stop_orphaned_experiments(now: datetime | None = None) -> list[int]:
    """Stop the open experiments of patterns taken out of use (deprecated, quarantined): no
    failure reaches their templates any more, so they could never finish."""
    orphaned = Experiment.objects.filter(
        status__in=OPEN_EXPERIMENT,
        pattern__status__in=[PatternStatus.DEPRECATED, PatternStatus.QUARANTINED],
    ).select_related("pattern")
    stopped = []
    for experiment in orphaned:
        stop(experiment.pk, "quality checks", f"pattern #{experiment.pattern_id} is "
             f"{experiment.pattern.status}", now)  # fmt: skip
        stopped.append(experiment.pk)
    return stopped


def run_quality_checks(now: datetime | None = None) -> QualityReport:
    """Stop the experiments of patterns out of use, start the ones patterns are owed, then check
    every open one (an experiment that cannot be checked is logged, the others still are)."""
    report = QualityReport(
        stopped=stop_orphaned_experiments(now),
        started=[e.pk for e in ensure_pattern_experiments()],
    )
    open_ids = Experiment.objects.filter(status__in=OPEN_EXPERIMENT).order_by("pk")
    for experiment_id in open_ids.values_list("pk", flat=True):
        try:
            report.checks.append(check_experiment(experiment_id, now))
        except Exception as exc:
            logger.exception("Quality check of experiment #%s failed", experiment_id)
            report.checks.append(
                CheckResult(experiment_id, "error", f"{type(exc).__name__}: {exc}")
            )
    return report


# --- What the dashboard shows -------------------------------------------------------------------

RECENTLY_FINISHED = timedelta(days=7)


@dataclass
class ExperimentView:
    pattern: Pattern | None
    experiment: Experiment | None  # None: competing templates waiting for their experiment
    name: str
    status: str  # an ExperimentStatus, or "waiting"
    status_reason: str
    rollout_percent: int
    variants: list[VariantNumbers]


def _waiting_view(pattern: Pattern) -> ExperimentView:
    variants = []
    for template in pattern.templates.all():
        trials = template.successes + template.failures
        arm = engine.Arm(template.variant, template.successes, trials)
        variants.append(
            VariantNumbers(
                label=template.variant, description=template.description,
                template_id=template.pk, trials=trials, successes=template.successes,
                rate=arm.rate, interval=arm.interval, exploring_trials=0, exploring_successes=0,
                share=None, champion=False, winner=False,
            )
        )  # fmt: skip
    return ExperimentView(
        pattern, None, _default_name(pattern, ""), "waiting",
        "competing templates; the next quality check starts their experiment (numbers: every "
        "outcome so far)", 0, variants,
    )  # fmt: skip


def experiments_to_show(
    patterns, limit: int = 10, now: datetime | None = None
) -> list[ExperimentView]:
    """Open experiments on these patterns (and on LLM prompts), then patterns whose competing
    templates wait for an experiment, then experiments finished in the last week."""
    now = now or timezone.now()
    on_patterns = Q(pattern__in=patterns) | Q(pattern__isnull=True)
    base = Experiment.objects.filter(on_patterns).select_related("pattern", "champion", "winner")
    views = [
        ExperimentView(e.pattern, e, e.name, e.status, e.status_reason, e.rollout_percent,
                       variant_numbers(e))
        for e in base.filter(status__in=OPEN_EXPERIMENT).order_by("-created_at", "-pk")[:limit]
    ]  # fmt: skip
    if len(views) < limit:
        uncompared = FixTemplate.objects.filter(experiment_variants__isnull=True).values(
            "pattern_id"
        )
        competing = (
            FixTemplate.objects.values("pattern_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=2)
            .values("pattern_id")
        )
        waiting = (
            patterns.filter(
                pk__in=competing, status__in=[PatternStatus.CANDIDATE, PatternStatus.ACTIVE]
            )
            .filter(pk__in=uncompared)
            .exclude(experiments__status__in=OPEN_EXPERIMENT)
            .prefetch_related("templates")
            .order_by("-last_used_at", "-pk")
        )
        views += [_waiting_view(p) for p in waiting[: limit - len(views)]]
    if len(views) < limit:
        finished = base.filter(finished_at__gte=now - RECENTLY_FINISHED).order_by("-finished_at")
        views += [
            ExperimentView(e.pattern, e, e.name, e.status, e.status_reason, e.rollout_percent,
                           variant_numbers(e))
            for e in finished[: limit - len(views)]
        ]  # fmt: skip
    return views


LLM_PROMPT = "llm-fix"  # the name experiments on the LLM fixer's prompt use


class PromptVariantFixer:
    """The LLM fixer under an open experiment on its prompt: each failure is assigned a variant
    whose description is added to the system instructions, and its candidates carry the
    assignment so the loop reports the outcome to it."""

    def __init__(self, llm, project: Project, prompt: str = LLM_PROMPT):
        self.llm = llm
        self.name = llm.name
        self.project = project
        self.prompt = prompt

    def propose(self, context):
        assignment = assign_prompt_variant(self.prompt, self.project)
        if assignment is None:
            return self.llm.propose(context)
        fixer = copy.copy(self.llm)
        fixer.instructions = assignment.variant.description
        try:
            candidates = fixer.propose(context)
        except Unfixable:
            record_assignment_outcome(assignment.pk, False)
            raise
        if not candidates:
            record_assignment_outcome(assignment.pk, False)
        for candidate in candidates:
            candidate.metadata.update(
                variant=assignment.variant.label,
                assignment_id=assignment.pk,
                experiment_id=assignment.experiment_id,
            )
        return candidates
