"""Accepting error events: store the raw row now, group it later in Celery.

The insert is idempotent on (project, event_id): a retried event is stored once. Grouping is handed
to a batch task after the commit; if the broker is down or a worker dies, the rows stay ungrouped
and the `scan_errors` beat task picks them up, so nothing accepted is lost.
"""

import functools
import logging
import time
from collections.abc import Iterable

import psycopg
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
_sent_until = 0.0  # time.monotonic() before which this process's last grouping task cannot run


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
    wraps itself in a transaction: three).

    The parameters are bound on the server (a psycopg `Cursor`, not Django's client-side binding
    one): the event's JSON travels as it is instead of being quoted into the SQL text.
    """
    sql = _insert_sql(len(events))
    params = []
    for event in events:
        params += [project_id, event.event_id, source, received_at, event.timestamp, event.level,
                   event.release, event.environment, event.stored_json()]  # fmt: skip
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@functools.cache
def _insert_sql(rows: int) -> str:
    row = "(" + ", ".join(["%s"] * (len(_COLUMNS) - 1)) + ", %s::jsonb)"
    return (
        f"INSERT INTO {ErrorEvent._meta.db_table} ({', '.join(_COLUMNS)}) "
        f"VALUES {', '.join([row] * rows)} ON CONFLICT DO NOTHING"
    )


def schedule_grouping() -> None:
    """Send the batch grouping task, debounced; never fail the request over it.

    The debounce key lives no longer than the task's countdown, so an event that finds the key set
    was committed before the already-sent task runs. The process that sent the task knows when it
    will run at the earliest, and skips even the cache until then.
    """
    global _sent_until
    started = time.monotonic()
    if started < _sent_until:  # this process's own task has not run yet: no cache round trip
        return
    if not cache.add("monitoring:grouping-scheduled", 1, timeout=GROUPING_DEBOUNCE_SECONDS):
        return
    _sent_until = started + GROUPING_DEBOUNCE_SECONDS
    try:
        current_app.send_task(GROUPING_TASK, countdown=GROUPING_DEBOUNCE_SECONDS, retry=False)
    except Exception:  # noqa: BLE001 - the beat scan groups what this would have
        log.warning("Could not send the grouping task; the beat scan will group the events.")
