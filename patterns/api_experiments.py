"""JSON API of fix variants (A/B experiments and their rollouts) and of the self-improvement runs.

Experiments and patterns are shared by every project, so changing them (create, advance, roll
back, stop, check, run the self-improvement now) is for staff; any signed-in user may read."""

from datetime import datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError

from .models import Experiment, ExperimentStatus, ImprovementRun, Pattern
from .services import experiments as service
from .services import run_self_improvement

router = Router(tags=["experiments"])

MAX_LIMIT = 100


def _require_staff(request: HttpRequest) -> str:
    if not request.user.is_staff:
        raise HttpError(403, "Experiments and thresholds are shared by every project: staff only.")
    return request.user.get_username()


class VariantIn(Schema):
    label: str
    template_id: int | None = None
    share: float | None = None
    description: str = ""


class ExperimentIn(Schema):
    name: str = ""
    pattern_id: int | None = None
    prompt: str = ""
    variants: list[VariantIn]
    allocation: str | None = None  # "thompson" (default) or "fixed" (the default with shares)
    method: str = "fisher"  # "fisher", "z_test" or "bayes"
    min_samples_per_arm: int = 30
    step_min_outcomes: int = 20
    champion: str | None = None  # a variant's label; the pattern's preferred template by default


class VariantOut(Schema):
    label: str
    description: str
    template_id: int | None
    trials: int
    successes: int
    success_rate: float | None
    interval: list[float] | None  # 95% Wilson interval of the success rate
    exploring_trials: int
    exploring_successes: int
    traffic_share: float | None  # None while Thompson sampling moves it
    champion: bool
    winner: bool


class StepOut(Schema):
    percent: int
    status: str
    reason: str
    winner_trials: int
    winner_successes: int
    champion_trials: int
    champion_successes: int
    started_at: datetime
    finished_at: datetime | None


class ExperimentOut(Schema):
    id: int
    name: str
    pattern_id: int | None
    prompt: str
    allocation: str
    method: str
    status: str
    status_reason: str
    decision: str
    champion: str | None
    winner: str | None
    rollout_percent: int
    min_samples_per_arm: int
    looks_done: int
    step_min_outcomes: int
    created_at: datetime
    decided_at: datetime | None
    finished_at: datetime | None
    variants: list[VariantOut]


class ExperimentDetailOut(ExperimentOut):
    steps: list[StepOut]


class ExperimentFilters(Schema):
    status: ExperimentStatus | None = None
    pattern_id: int | None = None
    open: bool | None = None
    limit: int = 50
    offset: int = 0


class ActionIn(Schema):
    reason: str = ""


class CheckOut(Schema):
    action: str
    reason: str
    experiment: ExperimentDetailOut


def _experiment_row(experiment: Experiment) -> dict:
    return {
        "id": experiment.pk,
        "name": experiment.name,
        "pattern_id": experiment.pattern_id,
        "prompt": experiment.prompt,
        "allocation": experiment.allocation,
        "method": experiment.method,
        "status": experiment.status,
        "status_reason": experiment.status_reason,
        "decision": experiment.decision,
        "champion": experiment.champion.label if experiment.champion else None,
        "winner": experiment.winner.label if experiment.winner else None,
        "rollout_percent": experiment.rollout_percent,
        "min_samples_per_arm": experiment.min_samples_per_arm,
        "looks_done": experiment.looks_done,
        "step_min_outcomes": experiment.step_min_outcomes,
        "created_at": experiment.created_at,
        "decided_at": experiment.decided_at,
        "finished_at": experiment.finished_at,
        "variants": [
            {
                "label": v.label,
                "description": v.description,
                "template_id": v.template_id,
                "trials": v.trials,
                "successes": v.successes,
                "success_rate": v.rate,
                "interval": list(v.interval) if v.interval else None,
                "exploring_trials": v.exploring_trials,
                "exploring_successes": v.exploring_successes,
                "traffic_share": v.share,
                "champion": v.champion,
                "winner": v.winner,
            }
            for v in service.variant_numbers(experiment)
        ],
    }


def _detail(experiment_id: int) -> dict:
    experiment = get_object_or_404(
        Experiment.objects.select_related("champion", "winner"), pk=experiment_id
    )
    return {**_experiment_row(experiment), "steps": list(experiment.steps.all())}


def _act(action, experiment_id: int, *args) -> dict:
    get_object_or_404(Experiment, pk=experiment_id)
    try:
        action(experiment_id, *args)
    except service.ExperimentConflict as exc:
        raise HttpError(409, str(exc)) from None
    return _detail(experiment_id)


@router.get("/experiments", response=list[ExperimentOut])
def list_experiments(request: HttpRequest, filters: Query[ExperimentFilters]):
    """Experiments, newest first, with per-variant numbers."""
    if not 1 <= filters.limit <= MAX_LIMIT or filters.offset < 0:
        raise HttpError(400, f"limit must be 1..{MAX_LIMIT} and offset >= 0.")
    experiments = Experiment.objects.select_related("champion", "winner")
    if filters.status:
        experiments = experiments.filter(status=filters.status)
    if filters.pattern_id is not None:
        experiments = experiments.filter(pattern_id=filters.pattern_id)
    if filters.open is not None:
        open_ = experiments.filter(status__in=[ExperimentStatus.EXPLORING,
                                               ExperimentStatus.ROLLING_OUT])  # fmt: skip
        experiments = open_ if filters.open else experiments.exclude(pk__in=open_)
    page = experiments.order_by("-created_at", "-pk")[
        filters.offset : filters.offset + filters.limit
    ]
    return [_experiment_row(e) for e in page]


@router.post("/experiments", response={201: ExperimentDetailOut})
def create_experiment(request: HttpRequest, payload: ExperimentIn):
    """Variants of a pattern (each names one of its templates) or of an LLM prompt; with shares
    (summing to 1) the traffic is split in fixed shares, else by Thompson sampling."""
    _require_staff(request)
    pattern = None
    if payload.pattern_id is not None:
        pattern = Pattern.objects.filter(pk=payload.pattern_id).first()
        if pattern is None:
            raise HttpError(404, f"Pattern {payload.pattern_id} not found.")
    try:
        experiment = service.create_experiment(
            [service.VariantSpec(**v.dict()) for v in payload.variants],
            pattern=pattern,
            prompt=payload.prompt,
            name=payload.name,
            allocation=payload.allocation,
            method=payload.method,
            min_samples_per_arm=payload.min_samples_per_arm,
            step_min_outcomes=payload.step_min_outcomes,
            champion=payload.champion,
        )
    except service.ExperimentInvalid as exc:
        raise HttpError(400, str(exc)) from None
    except service.ExperimentConflict as exc:
        raise HttpError(409, str(exc)) from None
    return Status(201, _detail(experiment.pk))


@router.get("/experiments/{experiment_id}", response=ExperimentDetailOut)
def get_experiment(request: HttpRequest, experiment_id: int):
    """An experiment with per-variant trials, successes, success rate (95% interval), traffic
    share, and its rollout steps with the numbers each was judged on."""
    return _detail(experiment_id)


@router.post("/experiments/{experiment_id}/check", response=CheckOut)
def check_experiment(request: HttpRequest, experiment_id: int):
    """Run the winner test or judge the rollout step now (the hourly quality checks do the same)."""
    _require_staff(request)
    get_object_or_404(Experiment, pk=experiment_id)
    result = service.check_experiment(experiment_id)
    return {"action": result.action, "reason": result.reason, "experiment": _detail(experiment_id)}


@router.post("/experiments/{experiment_id}/advance", response=ExperimentDetailOut)
def advance_experiment(request: HttpRequest, experiment_id: int, payload: ActionIn):
    """Move the rollout to its next step (or complete it after 100%) without waiting. 409 when
    there is no rollout (no winner yet, or the experiment is finished)."""
    actor = _require_staff(request)
    return _act(service.advance, experiment_id, actor, payload.reason)


@router.post("/experiments/{experiment_id}/rollback", response=ExperimentDetailOut)
def roll_back_experiment(request: HttpRequest, experiment_id: int, payload: ActionIn):
    """Give all traffic back to the champion; the reason is recorded."""
    actor = _require_staff(request)
    if not payload.reason.strip():
        raise HttpError(400, "Say why the rollout is rolled back (reason).")
    return _act(service.roll_back, experiment_id, actor, payload.reason)


@router.post("/experiments/{experiment_id}/stop", response=ExperimentDetailOut)
def stop_experiment(request: HttpRequest, experiment_id: int, payload: ActionIn):
    """End an open experiment; the champion keeps all traffic."""
    actor = _require_staff(request)
    return _act(service.stop, experiment_id, actor, payload.reason)


# --- Self-improvement ---------------------------------------------------------------------------


class ImprovementRunOut(Schema):
    id: int
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    summary: str
    report: dict


@router.get("/self-improvement/runs", response=list[ImprovementRunOut], tags=["self-improvement"])
def list_improvement_runs(request: HttpRequest, limit: int = 10):
    """The latest self-improvement reports, newest first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise HttpError(400, f"limit must be 1..{MAX_LIMIT}.")
    return list(ImprovementRun.objects.order_by("-started_at", "-pk")[:limit])


@router.get(
    "/self-improvement/runs/{run_id}", response=ImprovementRunOut, tags=["self-improvement"]
)
def get_improvement_run(request: HttpRequest, run_id: int):
    return get_object_or_404(ImprovementRun, pk=run_id)


@router.post("/self-improvement/runs", response={201: ImprovementRunOut}, tags=["self-improvement"])
def run_improvement(request: HttpRequest):
    """Run the self-improvement cycle now (it also runs weekly); returns the stored report."""
    _require_staff(request)
    return Status(201, run_self_improvement(trigger="api"))
