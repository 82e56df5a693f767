"""Errors from sources without Sentry (JSON API, JUnit XML), the groups' statuses, and repair.

Every source is stored in Sentry's event shape, so grouping has one path.
"""

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Case, Count, IntegerField, QuerySet, Value, When
from django.db.models.functions import Trunc
from django.utils import timezone

from selfheal.engine.classify import SEVERITIES
from selfheal.engine.tracebacks import (
    ErrorReport,
    Frame,
    MalformedReport,
    parse_junit_xml,
    parse_python_traceback,
)
from selfheal.models import Project, StoppingPoint
from selfheal.services import projects_for

from .events import store_events
from .ingest import EventData, IngestError, parse_event_id, parse_timestamp, scrub_for_storage
from .models import ErrorEvent, ErrorGroup, ErrorGroupStatus, EventSource

log = logging.getLogger(__name__)

REPAIR_TASK = "proposals.tasks.open_repair_proposal"
JUNIT_NAMESPACE = uuid.UUID("6f1d4a52-8c1e-4f43-9a55-3c2f1b7f5e10")


SEVERITY_ORDER = Case(
    *(When(severity=name, then=Value(rank)) for rank, name in enumerate(SEVERITIES)),
    default=Value(0),
    output_field=IntegerField(),
)


class InvalidError(ValueError):
    """A submitted error that cannot be recorded; the message says why."""


def frame_payload(frame: Frame) -> dict:
    return {
        "filename": frame.filename, "lineno": frame.lineno, "function": frame.function,
        "module": frame.module, "context_line": frame.context_line,
        "pre_context": frame.pre_context, "post_context": frame.post_context,
        "in_app": frame.in_app,
    }  # fmt: skip


@dataclass
class ErrorSubmission:
    type: str = ""
    message: str = ""
    stacktrace: str = ""  # a Python traceback as text
    frames: list[dict] = field(default_factory=list)  # or frames in Sentry's shape
    fingerprint: list[str] = field(default_factory=list)
    release: str = ""
    environment: str = ""
    level: str = "error"
    event_id: str = ""
    timestamp: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    test_name: str = ""


def _event_payload(submission: ErrorSubmission, report: ErrorReport | None) -> dict:
    exc_type = submission.type or (report.exc_type if report else "")
    message = submission.message or (report.message if report else "")
    frames = submission.frames or ([frame_payload(f) for f in report.frames] if report else [])
    payload: dict = {"platform": "python", "level": submission.level or "error"}
    if exc_type or frames:
        payload["exception"] = {
            "values": [{"type": exc_type, "value": message, "stacktrace": {"frames": frames}}]
        }
    else:
        payload["logentry"] = {"formatted": message}
    for key in ("release", "environment"):
        if getattr(submission, key):
            payload[key] = getattr(submission, key)
    if submission.fingerprint:
        payload["fingerprint"] = submission.fingerprint
    tags = dict(submission.tags)
    if submission.test_name:
        tags["test"] = submission.test_name
        payload["transaction"] = submission.test_name
    if tags:
        payload["tags"] = tags
    if submission.extra:
        payload["extra"] = submission.extra
    return payload


def _event_data(
    submission: ErrorSubmission, report: ErrorReport | None, now: datetime
) -> EventData:
    payload = _event_payload(submission, report)
    try:
        event_id = parse_event_id(submission.event_id or None)
    except IngestError as exc:
        raise InvalidError(exc.reason) from exc
    payload["event_id"] = event_id.hex
    when = parse_timestamp(submission.timestamp.isoformat() if submission.timestamp else None, now)
    payload["timestamp"] = when.isoformat()
    payload = scrub_for_storage(payload)
    try:
        payload_json = json.dumps(payload, allow_nan=False)
    except ValueError as exc:
        raise InvalidError("NaN and Infinity are not JSON numbers.") from exc
    return EventData(
        event_id=event_id, timestamp=when, level=(submission.level or "error")[:20],
        release=submission.release[:200], environment=submission.environment[:64], payload=payload,
        payload_json=payload_json,
    )  # fmt: skip


def submit_error(project: Project, submission: ErrorSubmission) -> uuid.UUID:
    """Record one error from the JSON API; grouping follows in Celery like any event."""
    report = parse_python_traceback(submission.stacktrace) if submission.stacktrace else None
    if not (submission.type or submission.message or report or submission.frames):
        raise InvalidError("An error needs a type, a message, a stacktrace or frames.")
    event = _event_data(submission, report, timezone.now())
    with transaction.atomic():
        store_events(project.pk, [event], EventSource.JSON)
    return event.event_id


def submit_junit(
    project: Project, xml: bytes, *, release: str = "", environment: str = ""
) -> list[uuid.UUID]:
    """One error event per failing test of a JUnit XML report. Uploading the same report again
    records nothing new: the event ids are derived from the report and the test."""
    try:
        reports = parse_junit_xml(xml)
    except MalformedReport as exc:
        raise InvalidError(f"Not a usable JUnit XML report: {exc}") from exc
    digest = hashlib.sha256(xml).hexdigest()
    now = timezone.now()
    events = []
    for index, report in enumerate(reports):
        submission = ErrorSubmission(
            type=report.exc_type or "TestFailure",
            message=report.message,
            release=release,
            environment=environment,
            test_name=report.test_name,
            event_id=uuid.uuid5(
                JUNIT_NAMESPACE, f"{project.pk}:{digest}:{index}:{report.test_name}"
            ).hex,
        )
        events.append(_event_data(submission, report, now))
    with transaction.atomic():
        store_events(project.pk, events, EventSource.JUNIT)
    return [event.event_id for event in events]


# --- groups -------------------------------------------------------------------------------------


def groups_for(
    user: AbstractBaseUser,
    *,
    project: str | int | None = None,
    category: str = "",
    status: str = "",
    severity: str = "",
) -> QuerySet[ErrorGroup]:
    groups = ErrorGroup.objects.filter(project__in=projects_for(user)).select_related("project")
    if project:
        key = "project_id" if str(project).isdigit() else "project__slug"
        groups = groups.filter(**{key: project})
    if category:
        groups = groups.filter(category=category)
    if status:
        groups = groups.filter(status=status)
    if severity:
        groups = groups.filter(severity=severity)
    return groups.order_by("-last_seen")


def group_for(user: AbstractBaseUser, group_id: int) -> ErrorGroup:
    """The group if the user may see its project; ErrorGroup.DoesNotExist otherwise."""
    return ErrorGroup.objects.select_related("project", "deployment").get(
        pk=group_id, project__in=projects_for(user)
    )


def latest_event(group: ErrorGroup) -> ErrorEvent | None:
    return group.events.order_by("-timestamp", "-id").first()


@transaction.atomic
def set_group_status(group: ErrorGroup, status: str) -> ErrorGroup:
    """Move a group through its state machine; IllegalTransition if the move is not allowed."""
    group = ErrorGroup.objects.select_for_update().get(pk=group.pk)
    group.transition_to(status)
    group.save(update_fields=["status", "resolved_at"])
    return group


@transaction.atomic
def request_repair(group: ErrorGroup) -> ErrorGroup:
    """Mark the group healing and ask the proposals app (by task name) to open a repair proposal
    with the error's context. Raises IllegalTransition unless the group is unresolved."""
    group = ErrorGroup.objects.select_for_update().get(pk=group.pk)
    group.transition_to(ErrorGroupStatus.HEALING)
    group.repair_requested_at = timezone.now()
    group.save(update_fields=["status", "resolved_at", "repair_requested_at"])
    # Sent inside the transaction: if the broker refuses, the group is not left marked healing.
    current_app.send_task(REPAIR_TASK, args=[group.pk], retry=False)
    return group


@transaction.atomic
def finish_healing(group: ErrorGroup, healed: bool) -> ErrorGroup:
    """For the proposals app: a repair held (resolved) or did not (back to unresolved)."""
    group = ErrorGroup.objects.select_for_update().get(pk=group.pk)
    group.transition_to(ErrorGroupStatus.RESOLVED if healed else ErrorGroupStatus.UNRESOLVED)
    group.save(update_fields=["status", "resolved_at"])
    return group


def request_repairs_for_new_groups(
    now: datetime | None = None, per_project: int = 3, max_age: timedelta = timedelta(days=1)
) -> list[int]:
    """Open repair proposals for new code errors in projects whose stopping point allows it;
    a few per project per scan, so an error storm does not become a proposal storm."""
    now = now or timezone.now()
    requested = []
    candidates = (
        ErrorGroup.objects.filter(
            status=ErrorGroupStatus.UNRESOLVED,
            repair_requested_at__isnull=True,
            first_seen__gte=now - max_age,
        )  # fmt: skip
        .exclude(exc_type="")
        .exclude(project__stopping_point=StoppingPoint.ANALYSE_ONLY)
        .annotate(rank=SEVERITY_ORDER)
        .order_by("project_id", "-rank", "first_seen")
    )
    taken: dict[int, int] = {}
    for group in candidates:
        if taken.get(group.project_id, 0) >= per_project:
            continue
        taken[group.project_id] = taken.get(group.project_id, 0) + 1
        try:
            request_repair(group)
        except Exception:  # noqa: BLE001 - broker down: the group stays unresolved, next scan retries
            log.warning("Could not request a repair for error group %s", group.pk, exc_info=True)
            continue
        requested.append(group.pk)
    return requested


# --- occurrences --------------------------------------------------------------------------------


def occurrences(group: ErrorGroup, now: datetime | None = None) -> list[tuple[datetime, int]]:
    """Events per hour over the last day, or per day over the last 30 days for older groups."""
    now = now or timezone.now()
    if now - group.first_seen <= timedelta(days=1):
        unit, step, buckets = "hour", timedelta(hours=1), 24
    else:
        unit, step, buckets = "day", timedelta(days=1), 30
    start = _truncate(now, unit) - step * (buckets - 1)
    counts = dict(
        group.events.filter(timestamp__gte=start)
        .annotate(bucket=Trunc("timestamp", unit))
        .values_list("bucket")
        .annotate(n=Count("id"))
        .values_list("bucket", "n")
    )
    return [(start + step * i, counts.get(start + step * i, 0)) for i in range(buckets)]


def _truncate(when: datetime, unit: str) -> datetime:
    when = when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0) if unit == "day" else when
