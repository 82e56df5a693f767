"""Accepting error events: store the raw row now, group it later in Celery.

The insert is idempotent on (project, event_id): a retried event is stored once. Grouping is handed
to a batch task after the commit; if the broker is down or a worker dies, the rows stay ungrouped
and the `scan_errors` beat task picks them up, so nothing accepted is lost.
"""

import logging
from collections.abc import Iterable

from celery import current_app
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from .ingest import EventData
from .models import ErrorEvent

log = logging.getLogger(__name__)

GROUPING_TASK = "monitoring.tasks.group_events"
# A grouping task is sent at most once per this many seconds per process, with the same countdown:
# every event stored while the previous task was waiting is committed before that task runs.
GROUPING_DEBOUNCE_SECONDS = 1


_COLUMNS = ("project_id", "event_id", "source", "received_at", "timestamp", "level", "release",
            "environment", "payload")  # fmt: skip


def store_events(project_id: int, events: Iterable[EventData], source: str) -> int:
    """Insert the events (duplicates of stored event ids are skipped); return how many were new."""
    events = list(events)
    if not events:
        return 0
    received_at = timezone.now()
    if connection.vendor == "postgresql":
        inserted = _insert_on_conflict_do_nothing(project_id, events, source, received_at)
    else:
        rows = [
            ErrorEvent(
                project_id=project_id, event_id=event.event_id, source=source,
                received_at=received_at, timestamp=event.timestamp, level=event.level,
                release=event.release, environment=event.environment, payload=event.payload,
            )
            for event in events
        ]  # fmt: skip
        inserted = len(ErrorEvent.objects.bulk_create(rows, ignore_conflicts=True))
    transaction.on_commit(schedule_grouping)
    return inserted


def _insert_on_conflict_do_nothing(
    project_id: int, events: list[EventData], source: str, received_at
) -> int:
    """The ingest hot path: one statement, one round trip in autocommit (the ORM's bulk_create
    wraps itself in a transaction: three)."""
    row = "(" + ", ".join(["%s"] * (len(_COLUMNS) - 1)) + ", %s::jsonb)"
    sql = (
        f"INSERT INTO {ErrorEvent._meta.db_table} ({', '.join(_COLUMNS)}) "
        f"VALUES {', '.join([row] * len(events))} ON CONFLICT DO NOTHING"
    )
    params = []
    for event in events:
        params += [project_id, event.event_id, source, received_at, event.timestamp, event.level,
                   event.release, event.environment, event.stored_json()]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


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
