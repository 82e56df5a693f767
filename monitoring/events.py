"""Accepting error events: store the raw row now, group it later in Celery.

The insert is idempotent on (project, event_id): a retried event is stored once. Grouping is handed
to a batch task after the commit; if the broker is down or a worker dies, the rows stay ungrouped
and the `scan_errors` beat task picks them up, so nothing accepted is lost.
"""

import logging
from collections.abc import Iterable

from celery import current_app
from django.core.cache import cache
from django.db import transaction

from selfheal.models import Project

from .ingest import EventData
from .models import ErrorEvent

log = logging.getLogger(__name__)

GROUPING_TASK = "monitoring.tasks.group_events"
# A grouping task is sent at most once per this many seconds per process, with the same countdown:
# every event stored while the previous task was waiting is committed before that task runs.
GROUPING_DEBOUNCE_SECONDS = 1


def store_events(project: Project, events: Iterable[EventData], source: str) -> int:
    """Insert the events (duplicates of stored event ids are skipped); return how many were new."""
    rows = [
        ErrorEvent(
            project=project,
            event_id=event.event_id,
            source=source,
            timestamp=event.timestamp,
            level=event.level,
            release=event.release,
            environment=event.environment,
            payload=event.payload,
        )
        for event in events
    ]
    if not rows:
        return 0
    created = ErrorEvent.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(schedule_grouping)
    return len(created)


def schedule_grouping() -> None:
    """Send the batch grouping task, debounced; never fail the request over it.

    The debounce key lives no longer than the task's countdown, so an event that finds the key set
    was committed before the already-sent task runs.
    """
    if not cache.add("monitoring:grouping-scheduled", 1, timeout=GROUPING_DEBOUNCE_SECONDS):
        return
    try:
        current_app.send_task(GROUPING_TASK, countdown=GROUPING_DEBOUNCE_SECONDS, retry=False)
    except Exception:  # noqa: BLE001 - the beat scan groups what this would have
        log.warning("Could not send the grouping task; the beat scan will group the events.")
