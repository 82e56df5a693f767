"""JSON API of the self-healing dashboard: start a healing scan, follow it, read the numbers."""

from datetime import datetime

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from monitoring.models import Job
from patterns.api import StatsOut
from patterns.services import learning_stats
from selfheal.services import get_project_for, projects_for

from . import queries, services
from .models import HealingScan, ScanMode, ScanStatus

router = Router(tags=["self-healing"])


class ScanIn(Schema):
    mode: ScanMode = ScanMode.AUTO
    job_id: int | None = None  # heal the project of this job (say, one whose run just failed)
    project: str | None = None  # id or slug; empty: every project you review


class ScanOut(Schema):
    id: int
    mode: str
    status: str
    progress: float
    stage: str
    counts: dict
    error: str
    project: str | None
    job_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    status_url: str

    @staticmethod
    def resolve_project(obj: HealingScan) -> str | None:
        return obj.project.slug if obj.project else None

    @staticmethod
    def resolve_status_url(obj: HealingScan) -> str:
        return f"/api/v1/self-healing/scan/{obj.pk}"


class ScanAccepted(ScanOut):
    created: bool  # false: a scan of the same scope was already queued or running


class HeadlineOut(Schema):
    project: str | None
    window_days: int
    patterns_learned: int
    active_patterns: int
    successful_heals: int
    finished_runs: int
    success_rate: float | None
    average_confidence: float | None
    mean_time_to_heal_seconds: float | None
    auto_applied: int
    false_positives: int
    false_positive_rate: float | None
    error_events_24h: int
    open_error_groups: int
    events_waiting: int
    events_waiting_capped: bool
    awaiting_review: int


@router.post("/self-healing/scan", response={202: ScanAccepted})
def start_scan(request: HttpRequest, payload: ScanIn):
    """Queue a healing scan: group pending errors, open repair proposals, test what is proposed,
    auto-fix what fails. Follow it at `status_url`."""
    project = get_project_for(request.user, payload.project) if payload.project else None
    job = None
    if payload.job_id is not None:
        job = (
            Job.objects.filter(pk=payload.job_id, project__in=projects_for(request.user))
            .select_related("project")
            .first()
        )
        if job is None:
            raise HttpError(404, f"Job {payload.job_id} not found.")
    try:
        scan, created = services.request_scan(request.user, payload.mode, project=project, job=job)
    except services.BadScanRequest as exc:
        raise HttpError(400, str(exc)) from None
    if created and scan.status == ScanStatus.FAILED:  # the broker refused it
        raise HttpError(503, scan.error)
    scan.created = created
    return Status(202, scan)


@router.get("/self-healing/scan/{scan_id}", response=ScanOut)
def get_scan(request: HttpRequest, scan_id: int):
    services.expire_stale_scans()
    scan = services.scans_for(request.user).filter(pk=scan_id).first()
    if scan is None:
        raise HttpError(404, f"Healing scan {scan_id} not found.")
    return scan


class StatsWithHealingOut(StatsOut):
    healing: HeadlineOut


@router.get("/stats", response=StatsWithHealingOut)
def learning_and_healing_stats(request: HttpRequest, project: str | None = None):
    """What selfheal learned (patterns learned, successful heals, average confidence, success
    rate, per category) and, under `healing`, the dashboard's headline numbers."""
    chosen = get_project_for(request.user, project) if project else None
    scope = queries.scope_for(request.user, project)
    healing = {"project": scope.slug or None, **queries.headline(scope, timezone.now()).as_dict()}
    return {
        "project": chosen.slug if chosen else None,
        **learning_stats(chosen),
        "healing": healing,
    }


@router.get("/self-healing/stats", response=HeadlineOut)
def stats(request: HttpRequest, project: str | None = None):
    """The dashboard's headline numbers over your projects, or one (`project`: id or slug)."""
    scope = queries.scope_for(request.user, project)
    numbers = queries.headline(scope, timezone.now())
    return {"project": scope.slug or None, **numbers.as_dict()}
