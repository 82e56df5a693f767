"""Jobs: pings in, runs tracked, stuck / failed / slow detected, healing actions taken and judged.

Time is always passed in (`now`), so detection is driven by a controllable clock in tests.
"""

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.utils import timezone
from django.utils.text import slugify

from selfheal.models import Project

from .ingest import CheckIn
from .models import (
    HealingAction,
    HealingOutcome,
    Job,
    JobPing,
    JobProblem,
    JobRun,
    JobStatus,
    PingKind,
    RunStatus,
)
from .models.jobs import MAX_PING_BODY_CHARS
from .webhooks import post_json

log = logging.getLogger(__name__)

RECENT_RUNS_FOR_P95 = 50
MIN_RUNS_FOR_P95 = 5
SLOW_FACTOR = 1.5
OPEN = (RunStatus.RUNNING, RunStatus.STUCK)


class PingError(ValueError):
    """A ping that cannot be understood (e.g. a progress value that is not a number)."""


def ping_url(job: Job) -> str:
    return f"{settings.SELFHEAL_PUBLIC_URL.rstrip('/')}/ping/{job.ping_key}"


def unique_job_slug(project: Project, name: str) -> str:
    base = slugify(name)[:90] or "job"
    slug, n = base, 2
    while Job.objects.filter(project=project, slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_job(project: Project, name: str, slug: str = "", **fields) -> Job:
    job = Job(project=project, name=name, slug=slug or unique_job_slug(project, name), **fields)
    job.full_clean()
    job.save()
    return job


# --- pings --------------------------------------------------------------------------------------


def _find_run(job: Job, rid: uuid.UUID | None) -> JobRun | None:
    if rid is not None:
        return job.runs.filter(rid=rid).first()
    return job.runs.filter(rid__isnull=True, status__in=OPEN).order_by("-id").first()


def _new_run(job: Job, rid: uuid.UUID | None, now: datetime, started: bool) -> JobRun:
    return JobRun.objects.create(
        job=job, rid=rid, started_at=now if started else None, last_activity_at=now
    )


@transaction.atomic
def record_ping(
    job: Job,
    kind: str,
    *,
    rid: uuid.UUID | None = None,
    value: float | None = None,
    exit_code: int | None = None,
    body: str = "",
    via: str = "http",
    remote_addr: str | None = None,
    duration: float | None = None,
    now: datetime | None = None,
) -> JobRun:
    """Apply one ping to the job's run (found by `rid`, or the open run without one)."""
    now = now or timezone.now()
    Job.objects.select_for_update().filter(pk=job.pk).first()  # one ping of a job at a time
    body = body[:MAX_PING_BODY_CHARS]
    if kind == PingKind.START:
        run = _start(job, rid, now)
    else:
        run = _find_run(job, rid)
        if run is None:
            run = _new_run(job, rid, now, started=(kind == PingKind.PROGRESS))
        if run.status == RunStatus.STUCK and kind == PingKind.PROGRESS:
            run.transition_to(RunStatus.RUNNING)  # it came back to life
        run.last_activity_at = now
        if kind == PingKind.PROGRESS:
            run.progress, run.progress_at = value, now
        elif run.is_open:
            _finish(run, kind, exit_code, duration, now)
    run.append_log(body)
    run.save()
    JobPing.objects.create(
        job=job, run=run, kind=kind, value=value, exit_code=exit_code, via=via,
        remote_addr=remote_addr, body=body, created_at=now,
    )  # fmt: skip
    job.status = {
        RunStatus.RUNNING: JobStatus.RUNNING,
        RunStatus.SUCCEEDED: JobStatus.UP,
        RunStatus.FAILED: JobStatus.FAILED,
        RunStatus.STUCK: JobStatus.STUCK,
    }[run.status]
    job.last_ping_at = now
    job.save(update_fields=["status", "last_ping_at"])
    return run


def _start(job: Job, rid: uuid.UUID | None, now: datetime) -> JobRun:
    existing = _find_run(job, rid)
    if existing is not None and rid is not None:
        return existing  # a repeated start of the same run
    if existing is not None:
        # Without run ids runs cannot overlap: a new start means the open one died unannounced.
        existing.transition_to(RunStatus.FAILED)
        existing.finished_at = now
        existing.failed_detected_at = now  # nothing to heal: it is already running again
        existing.append_log("(superseded by a new start)")
        existing.save()
    return _new_run(job, rid, now, started=True)


def _finish(
    run: JobRun, kind: str, exit_code: int | None, duration: float | None, now: datetime
) -> None:
    failed = kind == PingKind.FAIL or (exit_code is not None and exit_code != 0)
    run.transition_to(RunStatus.FAILED if failed else RunStatus.SUCCEEDED)
    run.finished_at = now
    run.exit_code = exit_code
    if run.started_at is None and duration is not None:
        run.started_at = now - timedelta(seconds=duration)
    if run.status == RunStatus.SUCCEEDED and run.duration is not None:
        threshold = slow_threshold(run.job, exclude_run=run.pk)
        run.slow = threshold is not None and run.duration > threshold
    _judge_healing_actions(run, now)


def _judge_healing_actions(run: JobRun, now: datetime) -> None:
    """The first run to finish after a healing action tells whether the action worked."""
    outcome = (
        HealingOutcome.RECOVERED
        if run.status == RunStatus.SUCCEEDED
        else HealingOutcome.NOT_RECOVERED
    )
    HealingAction.objects.filter(
        job_id=run.job_id, outcome=HealingOutcome.PENDING, created_at__lte=now
    ).exclude(run_id=run.pk).update(outcome=outcome, outcome_run=run, outcome_at=now)


def parse_progress(raw: str | None) -> float | None:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise PingError(f"Progress value {raw[:20]!r} is not a number.") from exc
    if not math.isfinite(value):
        raise PingError("Progress value must be a finite number.")
    return value


def parse_rid(raw: str | None) -> uuid.UUID | None:
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise PingError(f"rid {raw[:40]!r} is not a UUID.") from exc


CHECKIN_KINDS = {"in_progress": PingKind.START, "ok": PingKind.SUCCESS, "error": PingKind.FAIL}


def record_checkin(project_id: int, checkin: CheckIn, now: datetime | None = None) -> JobRun:
    """A Sentry Crons check-in is a ping of the job whose slug is the monitor slug."""
    defaults = {"name": checkin.monitor_slug}
    max_runtime = checkin.monitor_config.get("max_runtime")
    if (
        isinstance(max_runtime, int | float)
        and not isinstance(max_runtime, bool)
        and max_runtime > 0
    ):
        defaults["stuck_after"] = timedelta(minutes=max_runtime)
    job, _ = Job.objects.get_or_create(
        project_id=project_id, slug=slugify(checkin.monitor_slug)[:100] or "job", defaults=defaults
    )
    return record_ping(
        job, CHECKIN_KINDS[checkin.status], rid=checkin.check_in_id, via="sentry",
        duration=checkin.duration, now=now,
    )  # fmt: skip


# --- detection ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def slow_threshold(job: Job, exclude_run: int | None = None) -> timedelta | None:
    """The job's expected duration, else 1.5× the p95 of its recent successful runs."""
    if job.expected_duration:
        return job.expected_duration
    runs = (
        job.runs.filter(
            status=RunStatus.SUCCEEDED, started_at__isnull=False, finished_at__isnull=False
        )
        .exclude(pk=exclude_run)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:RECENT_RUNS_FOR_P95]
    )
    durations = [(finished - started).total_seconds() for started, finished in runs]
    if len(durations) < MIN_RUNS_FOR_P95:
        return None
    return timedelta(seconds=SLOW_FACTOR * percentile(durations, 95))


@dataclass(frozen=True)
class Detection:
    run_id: int
    job_id: int
    problem: str


def detect_job_problems(now: datetime | None = None) -> list[Detection]:
    """Find stuck, failed and slow runs, each once, and run the jobs' healing actions."""
    now = now or timezone.now()
    detections = _detect(now)
    for detection in detections:
        heal(detection, now)
    return detections


@transaction.atomic
def _detect(now: datetime) -> list[Detection]:
    found: list[Detection] = []
    stale_before = ExpressionWrapper(
        Value(now) - F("job__stuck_after"), output_field=DateTimeField()
    )
    stuck = (
        JobRun.objects.filter(status=RunStatus.RUNNING, stuck_detected_at__isnull=True)
        .alias(stale_before=stale_before)
        .filter(last_activity_at__lt=F("stale_before"))
        .select_related("job")
        .select_for_update(skip_locked=True, of=("self",))
    )
    for run in stuck:
        run.transition_to(RunStatus.STUCK)
        run.stuck_detected_at = now
        run.save(update_fields=["status", "stuck_detected_at"])
        Job.objects.filter(pk=run.job_id).update(status=JobStatus.STUCK)
        found.append(Detection(run.pk, run.job_id, JobProblem.STUCK))

    failed = JobRun.objects.filter(
        status=RunStatus.FAILED, failed_detected_at__isnull=True
    ).select_for_update(skip_locked=True)
    for run in failed:
        run.failed_detected_at = now
        run.save(update_fields=["failed_detected_at"])
        found.append(Detection(run.pk, run.job_id, JobProblem.FAILED))

    slow_candidates = list(
        JobRun.objects.filter(slow_detected_at__isnull=True, started_at__isnull=False)
        .filter(status=RunStatus.RUNNING)
        .select_related("job")
        .select_for_update(skip_locked=True, of=("self",))
    )
    for run in slow_candidates:
        threshold = slow_threshold(run.job, exclude_run=run.pk)
        if threshold is not None and now - run.started_at > threshold:
            run.slow = True
    finished_slow = JobRun.objects.filter(
        slow=True, slow_detected_at__isnull=True
    ).select_for_update(skip_locked=True)
    running_slow = [run for run in slow_candidates if run.slow]
    for run in [*running_slow, *finished_slow]:
        run.slow_detected_at = now
        run.save(update_fields=["slow", "slow_detected_at"])
        found.append(Detection(run.pk, run.job_id, JobProblem.SLOW))
    return found


# --- healing ------------------------------------------------------------------------------------


def heal(detection: Detection, now: datetime) -> list[HealingAction]:
    """Run the job's healing actions for one detection; each call is recorded."""
    run = JobRun.objects.select_related("job", "job__project").get(pk=detection.run_id)
    job = run.job
    if detection.problem == JobProblem.SLOW and not job.retry_when_slow:
        return []
    actions = []
    if job.retry_webhook_url:
        result = post_json(
            job.retry_webhook_url,
            {
                "job": job.name, "slug": job.slug, "project": job.project.slug,
                "problem": detection.problem, "run_id": run.pk,
                "rid": run.rid.hex if run.rid else None, "progress": run.progress,
                "last_activity_at": run.last_activity_at.isoformat(),
            },
        )  # fmt: skip
        detail = f"HTTP {result.status_code}" if result.ok else result.detail
        actions.append(_record_action(job, run, detection.problem, "webhook",
                                      job.retry_webhook_url, result.ok, detail, now))  # fmt: skip
    if job.retry_task_name:
        try:
            sent = current_app.send_task(job.retry_task_name, retry=False)
            ok, detail = True, f"sent as task {sent.id}"
        except Exception as exc:  # noqa: BLE001 - a broker error is recorded on the action
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        actions.append(_record_action(job, run, detection.problem, "celery_task",
                                      job.retry_task_name, ok, detail, now))  # fmt: skip
    return actions


def _record_action(job, run, problem, kind, target, ok, detail, now) -> HealingAction:
    if not ok:
        log.warning("Healing %s of job %s failed: %s", kind, job.pk, detail)
    return HealingAction.objects.create(
        job=job, run=run, problem=problem, kind=kind, target=target[:500], called_ok=ok,
        detail=detail, created_at=now,
        outcome=HealingOutcome.PENDING if ok else HealingOutcome.NOT_RECOVERED,
    )  # fmt: skip
