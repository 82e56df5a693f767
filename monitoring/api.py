"""/api/v1: errors (list, report, JUnit upload, status, repair), jobs, deployments, alerts."""

from datetime import datetime, timedelta
from typing import Literal

from django.http import HttpRequest, JsonResponse
from ninja import Field, File, Form, Router, Schema, UploadedFile
from ninja.errors import HttpError

from selfheal.models import Role
from selfheal.services import get_project_for, projects_for

from . import deployments, errors, jobs
from .grouping import report_from_payload
from .ingest import IngestError
from .models import (
    Alert,
    AlertChannel,
    AlertSeverity,
    ChannelKind,
    Deployment,
    ErrorGroup,
    ErrorGroupStatus,
    IllegalTransition,
    Job,
)
from .ratelimit import check_rate

router = Router(tags=["monitoring"])

MAX_JUNIT_BYTES = 10 * 1024 * 1024


def _rate_limited(exc: IngestError) -> JsonResponse:
    response = JsonResponse({"detail": exc.reason}, status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


# --- errors -------------------------------------------------------------------------------------


class FrameIn(Schema):
    filename: str = Field("", max_length=1000)
    lineno: int | None = None
    function: str = Field("?", max_length=500)
    module: str = Field("", max_length=500)
    context_line: str = Field("", max_length=1000)
    pre_context: list[str] = Field(default_factory=list, max_length=20)
    post_context: list[str] = Field(default_factory=list, max_length=20)
    in_app: bool = True


class ErrorIn(Schema):
    project: int | str
    type: str = Field("", max_length=200)
    message: str = Field("", max_length=8000)
    stacktrace: str = Field("", max_length=200_000, description="A Python traceback as text.")
    frames: list[FrameIn] = Field(default_factory=list, max_length=250)
    fingerprint: list[str] = Field(default_factory=list, max_length=20)
    release: str = Field("", max_length=200)
    environment: str = Field("", max_length=64)
    level: Literal["fatal", "error", "warning", "info", "debug"] = "error"
    event_id: str = ""
    timestamp: datetime | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    extra: dict = Field(default_factory=dict)


class Accepted(Schema):
    id: str


class JunitAccepted(Schema):
    count: int
    ids: list[str]


class GroupOut(Schema):
    id: int
    project: str = Field(..., alias="project.slug")
    title: str
    exc_type: str
    message: str
    culprit: str
    category: str
    severity: str
    root_cause: str
    fingerprint: str
    count: int
    first_seen: datetime
    last_seen: datetime
    releases: list[str]
    status: str
    deployment_id: int | None


class FrameOut(Schema):
    filename: str
    lineno: int | None
    function: str
    module: str
    in_app: bool
    context_line: str


class GroupDetailOut(GroupOut):
    latest_event_id: str | None = None
    latest_event_at: datetime | None = None
    frames: list[FrameOut] = []


class StatusIn(Schema):
    status: ErrorGroupStatus


def _group(request: HttpRequest, group_id: int) -> ErrorGroup:
    try:
        return errors.group_for(request.user, group_id)
    except ErrorGroup.DoesNotExist:
        raise HttpError(404, f"Error group {group_id} not found.") from None


@router.get("/errors", response=list[GroupOut])
def list_error_groups(
    request: HttpRequest,
    project: str = "",
    category: str = "",
    status: str = "",
    severity: str = "",
    limit: int = 100,
    offset: int = 0,
):
    if project:
        get_project_for(request.user, project)  # 404 for a project the user cannot see
    groups = errors.groups_for(
        request.user, project=project, category=category, status=status, severity=severity
    )
    offset, limit = max(offset, 0), min(max(limit, 1), 500)
    return groups[offset : offset + limit]


@router.post("/errors", response={202: Accepted})
def report_error(request: HttpRequest, payload: ErrorIn):
    project = get_project_for(request.user, payload.project, Role.REVIEWER)
    try:
        check_rate(project.pk)
    except IngestError as exc:
        return _rate_limited(exc)
    data = payload.dict(exclude={"project"})
    data["frames"] = [dict(frame) for frame in data["frames"]]
    try:
        event_id = errors.submit_error(project, errors.ErrorSubmission(**data))
    except errors.InvalidError as exc:
        raise HttpError(400, str(exc)) from exc
    return 202, {"id": event_id.hex}


@router.post("/errors/junit", response={202: JunitAccepted})
def upload_junit(
    request: HttpRequest,
    project: Form[str],
    file: File[UploadedFile],
    release: Form[str] = "",
    environment: Form[str] = "",
):
    """One error event per failing test of a JUnit XML report (e.g. pytest --junitxml)."""
    target = get_project_for(request.user, project, Role.REVIEWER)
    if file.size > MAX_JUNIT_BYTES:
        raise HttpError(413, f"The report is larger than {MAX_JUNIT_BYTES} bytes.")
    try:
        check_rate(target.pk)
    except IngestError as exc:
        return _rate_limited(exc)
    try:
        ids = errors.submit_junit(
            target, file.read(), release=release[:200], environment=environment[:64]
        )
    except errors.InvalidError as exc:
        raise HttpError(400, str(exc)) from exc
    return 202, {"count": len(ids), "ids": [event_id.hex for event_id in ids]}


@router.get("/errors/{group_id}", response=GroupDetailOut)
def get_error_group(request: HttpRequest, group_id: int):
    group = _group(request, group_id)
    event = errors.latest_event(group)
    if event is not None:
        group.latest_event_id = event.event_id.hex
        group.latest_event_at = event.timestamp
        group.frames = report_from_payload(event.payload).frames
    return group


@router.post("/errors/{group_id}/status", response=GroupOut)
def change_error_status(request: HttpRequest, group_id: int, payload: StatusIn):
    group = _group(request, group_id)
    get_project_for(request.user, group.project_id, Role.REVIEWER)
    try:
        return errors.set_group_status(group, payload.status)
    except IllegalTransition as exc:
        raise HttpError(409, str(exc)) from exc


@router.post("/errors/{group_id}/repair", response={202: GroupOut})
def open_repair_proposal(request: HttpRequest, group_id: int):
    """Mark the group healing and open a repair proposal with the error's context."""
    group = _group(request, group_id)
    get_project_for(request.user, group.project_id, Role.REVIEWER)
    try:
        return 202, errors.request_repair(group)
    except IllegalTransition as exc:
        raise HttpError(409, str(exc)) from exc


# --- jobs ---------------------------------------------------------------------------------------


class JobIn(Schema):
    project: int | str
    name: str = Field(..., min_length=1, max_length=200)
    slug: str = Field("", max_length=100)
    stuck_after_seconds: int = Field(300, ge=1)
    expected_duration_seconds: int | None = Field(None, ge=1)
    retry_webhook_url: str = ""
    retry_task_name: str = Field("", max_length=200)
    retry_when_slow: bool = False


class RunOut(Schema):
    id: int
    rid: str | None
    status: str
    started_at: datetime | None
    last_activity_at: datetime
    progress: float | None
    finished_at: datetime | None
    exit_code: int | None
    slow: bool

    @staticmethod
    def resolve_rid(run) -> str | None:
        return run.rid.hex if run.rid else None


class JobOut(Schema):
    id: int
    project: str = Field(..., alias="project.slug")
    name: str
    slug: str
    status: str
    ping_url: str
    stuck_after_seconds: float
    expected_duration_seconds: float | None
    retry_webhook_url: str
    retry_task_name: str
    retry_when_slow: bool
    last_ping_at: datetime | None

    @staticmethod
    def resolve_ping_url(job) -> str:
        return jobs.ping_url(job)

    @staticmethod
    def resolve_stuck_after_seconds(job) -> float:
        return job.stuck_after.total_seconds()

    @staticmethod
    def resolve_expected_duration_seconds(job) -> float | None:
        return job.expected_duration.total_seconds() if job.expected_duration else None


class JobDetailOut(JobOut):
    runs: list[RunOut]

    @staticmethod
    def resolve_runs(job) -> list:
        return list(job.runs.order_by("-last_activity_at")[:50])


@router.get("/jobs", response=list[JobOut])
def list_jobs(request: HttpRequest, project: str = ""):
    queryset = Job.objects.filter(project__in=projects_for(request.user)).select_related("project")
    if project:
        queryset = queryset.filter(project=get_project_for(request.user, project))
    return queryset


@router.post("/jobs", response={201: JobOut})
def create_job(request: HttpRequest, payload: JobIn):
    project = get_project_for(request.user, payload.project, Role.ADMIN)
    if payload.slug and Job.objects.filter(project=project, slug=payload.slug).exists():
        raise HttpError(409, f"Project {project.slug!r} already has a job {payload.slug!r}.")
    job = jobs.create_job(
        project, payload.name, slug=payload.slug,
        stuck_after=timedelta(seconds=payload.stuck_after_seconds),
        expected_duration=timedelta(seconds=payload.expected_duration_seconds)
        if payload.expected_duration_seconds else None,
        retry_webhook_url=payload.retry_webhook_url, retry_task_name=payload.retry_task_name,
        retry_when_slow=payload.retry_when_slow,
    )  # fmt: skip
    return 201, job


@router.get("/jobs/{job_id}", response=JobDetailOut)
def get_job(request: HttpRequest, job_id: int):
    job = Job.objects.filter(pk=job_id, project__in=projects_for(request.user)).first()
    if job is None:
        raise HttpError(404, f"Job {job_id} not found.")
    return job


# --- deployments --------------------------------------------------------------------------------


class DeploymentIn(Schema):
    project: int | str
    version: str = Field(..., min_length=1, max_length=200)
    commit: str = Field("", max_length=64)
    environment: str = Field("production", max_length=64)
    deployed_at: datetime | None = None


class DeploymentOut(Schema):
    id: int
    project: str = Field(..., alias="project.slug")
    version: str
    commit: str
    environment: str
    deployed_at: datetime
    health: str
    health_reason: str
    events_before: int | None
    events_after: int | None
    rate_ratio: float | None
    p_value: float | None
    error_group_ids: list[int]

    @staticmethod
    def resolve_error_group_ids(deployment) -> list[int]:
        return [group.pk for group in deployment.error_groups.all()]


@router.get("/deployments", response=list[DeploymentOut])
def list_deployments(request: HttpRequest, project: str = "", limit: int = 100):
    queryset = Deployment.objects.filter(project__in=projects_for(request.user))
    if project:
        queryset = queryset.filter(project=get_project_for(request.user, project))
    limit = min(max(limit, 1), 500)
    return queryset.select_related("project").prefetch_related("error_groups")[:limit]


@router.post("/deployments", response={201: DeploymentOut})
def create_deployment(request: HttpRequest, payload: DeploymentIn):
    project = get_project_for(request.user, payload.project, Role.REVIEWER)
    return 201, deployments.create_deployment(
        project, payload.version, commit=payload.commit, environment=payload.environment,
        deployed_at=payload.deployed_at, user=request.user,
    )  # fmt: skip


@router.get("/deployments/{deployment_id}", response=DeploymentOut)
def get_deployment(request: HttpRequest, deployment_id: int):
    deployment = Deployment.objects.filter(
        pk=deployment_id, project__in=projects_for(request.user)
    ).first()
    if deployment is None:
        raise HttpError(404, f"Deployment {deployment_id} not found.")
    return deployment


# --- alerts -------------------------------------------------------------------------------------


class AlertOut(Schema):
    id: int
    project: str | None
    kind: str
    cause: str
    severity: str
    title: str
    body: str
    status: str
    opened_at: datetime
    resolved_at: datetime | None

    @staticmethod
    def resolve_project(alert) -> str | None:
        return alert.project.slug if alert.project else None


class ChannelIn(Schema):
    project: int | str
    kind: ChannelKind
    target: str = Field(..., min_length=3, max_length=500)
    min_severity: AlertSeverity = AlertSeverity.WARNING


class ChannelOut(Schema):
    id: int
    kind: str
    target: str
    min_severity: str
    enabled: bool


@router.get("/alerts", response=list[AlertOut])
def list_alerts(request: HttpRequest, status: str = "", limit: int = 100):
    queryset = Alert.objects.filter(project__in=projects_for(request.user)).select_related(
        "project"
    )
    if status:
        queryset = queryset.filter(status=status)
    return queryset[: min(max(limit, 1), 500)]


@router.post("/alerts/channels", response={201: ChannelOut})
def add_alert_channel(request: HttpRequest, payload: ChannelIn):
    project = get_project_for(request.user, payload.project, Role.ADMIN)
    channel = AlertChannel(
        project=project, kind=payload.kind, target=payload.target, min_severity=payload.min_severity
    )
    if payload.kind == ChannelKind.WEBHOOK and not payload.target.startswith(
        ("http://", "https://")
    ):
        raise HttpError(400, "A webhook channel's target must be an http(s) URL.")
    channel.save()
    return 201, channel
