"""Folding stored events into error groups: parse, classify, fingerprint, count.

Runs in batches inside one transaction each. Pending events are claimed with
`FOR UPDATE SKIP LOCKED`, so several workers share the backlog and a worker that dies mid-batch
only rolls its batch back for the next one to take.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from selfheal.engine.classify import Classification, classify
from selfheal.engine.fingerprint import fingerprint
from selfheal.engine.tracebacks import ErrorReport, parse_sentry_exception

from .models import Deployment, ErrorEvent, ErrorGroup, ErrorGroupStatus

log = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_RELEASES_KEPT = 100
MAX_MESSAGE_CHARS = 2000


def deploy_link_window() -> timedelta:
    """Groups first seen this long after a deployment are linked to it."""
    return timedelta(minutes=getattr(settings, "MONITORING_DEPLOY_WINDOW_MINUTES", 60))


@dataclass
class EventAnalysis:
    report: ErrorReport
    classification: Classification
    fingerprint: str

    @property
    def culprit(self) -> str:
        frame = self.report.crash_frame
        if frame is None:
            return ""
        return f"{frame.module or frame.filename} in {frame.function}"[:300]


def report_from_payload(payload: dict) -> ErrorReport:
    """Every event is stored in Sentry's shape (the JSON API and JUnit upload write it too)."""
    report = parse_sentry_exception(payload)
    if report is None:  # neither an exception nor a message
        report = ErrorReport(exc_type="", message="(an event with no exception or message)")
    return report


def analyse_event(payload: dict) -> EventAnalysis:
    try:
        report = report_from_payload(payload)
        return EventAnalysis(report, classify(report), fingerprint(report))
    except Exception:  # noqa: BLE001 - one malformed event must not block the queue behind it
        log.exception(
            "Could not analyse event %s; grouping it as unprocessable", payload.get("event_id")
        )
        report = ErrorReport(exc_type="", message="Unprocessable event", source="sentry")
        return EventAnalysis(
            report,
            Classification("unknown", "low", "The event could not be parsed."),
            "unprocessable",
        )


def group_pending_events(batch_size: int = BATCH_SIZE, max_batches: int | None = None) -> int:
    """Group every pending event (in batches); return how many were grouped."""
    total, batches = 0, 0
    while max_batches is None or batches < max_batches:
        grouped = group_batch(batch_size)
        total += grouped
        batches += 1
        if grouped < batch_size:
            break
    return total


@transaction.atomic
def group_batch(batch_size: int = BATCH_SIZE) -> int:
    events = list(
        ErrorEvent.objects.filter(group__isnull=True)
        .order_by("id")
        .select_for_update(skip_locked=True)[:batch_size]
    )
    if not events:
        return 0
    by_key: dict[tuple[int, str], list[tuple[ErrorEvent, EventAnalysis]]] = defaultdict(list)
    for event in events:
        analysis = analyse_event(event.payload)
        by_key[(event.project_id, analysis.fingerprint)].append((event, analysis))

    groups, created = _claim_groups(by_key)
    for key, members in by_key.items():
        group = groups[key]
        _fold_into(group, members, is_new=key in created)
        ErrorEvent.objects.filter(pk__in=[event.pk for event, _ in members]).update(group=group)
    ErrorGroup.objects.bulk_update(
        groups.values(),
        ["count", "first_seen", "last_seen", "releases", "status", "resolved_at", "deployment"],
    )
    return len(events)


def _claim_groups(
    by_key: dict[tuple[int, str], list[tuple[ErrorEvent, EventAnalysis]]],
) -> tuple[dict[tuple[int, str], ErrorGroup], set[tuple[int, str]]]:
    """Lock the groups of this batch, creating the missing ones; return them and the new keys."""
    wanted = Q()
    for project_id, fp in by_key:
        wanted |= Q(project_id=project_id, fingerprint=fp)
    existing = set(ErrorGroup.objects.filter(wanted).values_list("project_id", "fingerprint"))
    missing = sorted(key for key in by_key if key not in existing)  # sorted: no insert deadlocks
    fresh = []
    for key in missing:
        event, analysis = by_key[key][0]
        report, classification = analysis.report, analysis.classification
        fresh.append(
            ErrorGroup(
                project_id=key[0],
                fingerprint=key[1],
                exc_type=report.exc_type[:200],
                message=report.message[:MAX_MESSAGE_CHARS],
                culprit=analysis.culprit,
                category=classification.category,
                severity=classification.severity,
                root_cause=classification.root_cause[:500],
                count=0,
                first_seen=event.timestamp,
                last_seen=event.timestamp,
            )
        )
    ErrorGroup.objects.bulk_create(fresh, ignore_conflicts=True)
    locked = ErrorGroup.objects.filter(wanted).order_by("id").select_for_update()
    groups = {(group.project_id, group.fingerprint): group for group in locked}
    # A group another worker created meanwhile counts as existing for us; only ours are new.
    created = {key for key in missing if groups[key].count == 0}
    return groups, created


def _fold_into(
    group: ErrorGroup, members: list[tuple[ErrorEvent, EventAnalysis]], is_new: bool
) -> None:
    timestamps = [event.timestamp for event, _ in members]
    group.count += len(members)
    group.first_seen = min(group.first_seen, *timestamps)
    group.last_seen = max(group.last_seen, *timestamps)
    releases = list(group.releases)
    for event, _ in members:
        if event.release and event.release not in releases:
            releases.append(event.release)
    group.releases = releases[-MAX_RELEASES_KEPT:]
    if group.status == ErrorGroupStatus.RESOLVED:  # a regression reopens it
        group.transition_to(ErrorGroupStatus.UNRESOLVED)
    if is_new and group.deployment_id is None:
        first_event = min((event for event, _ in members), key=lambda e: e.timestamp)
        group.deployment = deployment_before(
            group.project_id, group.first_seen, first_event.environment
        )


def deployment_before(project_id: int, when, environment: str = "") -> Deployment | None:
    """The latest deployment at most one link-window before `when`, in the same environment."""
    deployments = Deployment.objects.filter(
        project_id=project_id, deployed_at__lte=when, deployed_at__gte=when - deploy_link_window()
    )
    if environment:
        deployments = deployments.filter(environment=environment)
    return deployments.order_by("-deployed_at").first()
