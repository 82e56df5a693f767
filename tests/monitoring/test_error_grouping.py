"""Grouping as a service: counts, first/last seen, releases, regressions, a dying worker, links."""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from monitoring import grouping
from monitoring.deployments import create_deployment
from monitoring.events import store_events
from monitoring.ingest import EventData
from monitoring.models import ErrorEvent, ErrorGroup, ErrorGroupStatus, IllegalTransition
from monitoring.tasks import scan_errors

pytestmark = pytest.mark.django_db


def sentry_event(exc_type="ValueError", message="bad", function="handler", lineno=10, **extra):
    payload = {
        "exception": {
            "values": [
                {
                    "type": exc_type,
                    "value": message,
                    "stacktrace": {
                        "frames": [
                            {"filename": "app/views.py", "module": "app.views", "function": function,
                             "lineno": lineno, "in_app": True, "context_line": "do_it()"},
                        ]
                    },
                }
            ]
        },
        **extra,
    }  # fmt: skip
    return payload


def store(project, payload, when=None, release="", environment="", event_id=None):
    when = when or timezone.now()
    event_id = event_id or uuid.uuid4()
    payload = {**payload, "event_id": event_id.hex}
    data = EventData(event_id, when, payload.get("level", "error"), release, environment, payload)
    with transaction.atomic():
        store_events(project.pk, [data], "sentry")
    return event_id


def test_counts_first_last_seen_and_releases(project):
    start = timezone.now() - timedelta(hours=2)
    store(project, sentry_event(message="user 17 not found"), start, release="1.0")
    store(
        project,
        sentry_event(message="user 99 not found"),
        start + timedelta(hours=1),
        release="1.1",
    )
    store(
        project,
        sentry_event(message="user 5 not found", lineno=99),
        start + timedelta(minutes=5),
        release="1.0",
    )
    assert grouping.group_pending_events() == 3
    group = ErrorGroup.objects.get()
    assert group.count == 3
    assert group.first_seen == start
    assert group.last_seen == start + timedelta(hours=1)
    assert group.releases == ["1.0", "1.1"]
    assert set(group.events.values_list("group_id", flat=True)) == {group.pk}
    assert group.status == ErrorGroupStatus.UNRESOLVED


def test_different_functions_and_types_split(project):
    store(project, sentry_event(function="checkout"))
    store(project, sentry_event(function="refund"))
    store(project, sentry_event(exc_type="KeyError", function="checkout"))
    grouping.group_pending_events()
    assert ErrorGroup.objects.count() == 3


def test_client_fingerprint_wins_and_default_expands(project):
    store(project, sentry_event(function="a", fingerprint=["payments-down"]))
    store(project, sentry_event(exc_type="KeyError", function="b", fingerprint=["payments-down"]))
    store(project, sentry_event(function="c", fingerprint=["{{ default }}", "tenant-1"]))
    store(project, sentry_event(function="c", fingerprint=["{{ default }}", "tenant-2"]))
    grouping.group_pending_events()
    assert sorted(ErrorGroup.objects.values_list("count", flat=True)) == [1, 1, 2]


def test_a_new_event_in_a_resolved_group_reopens_it(project):
    store(project, sentry_event())
    grouping.group_pending_events()
    group = ErrorGroup.objects.get()
    group.transition_to(ErrorGroupStatus.RESOLVED)
    group.save()
    store(project, sentry_event())
    grouping.group_pending_events()
    group.refresh_from_db()
    assert group.status == ErrorGroupStatus.UNRESOLVED
    assert group.count == 2


def test_ignored_groups_stay_ignored(project):
    store(project, sentry_event())
    grouping.group_pending_events()
    group = ErrorGroup.objects.get()
    group.transition_to(ErrorGroupStatus.IGNORED)
    group.save()
    store(project, sentry_event())
    grouping.group_pending_events()
    group.refresh_from_db()
    assert group.status == ErrorGroupStatus.IGNORED and group.count == 2


def test_illegal_transitions_raise():
    group = ErrorGroup(status=ErrorGroupStatus.IGNORED)
    with pytest.raises(IllegalTransition, match="ignored to healing"):
        group.transition_to(ErrorGroupStatus.HEALING)
    group = ErrorGroup(status=ErrorGroupStatus.RESOLVED)
    with pytest.raises(IllegalTransition):
        group.transition_to(ErrorGroupStatus.IGNORED)
    assert group.status == ErrorGroupStatus.RESOLVED


def test_a_worker_dying_mid_batch_loses_nothing(project, monkeypatch):
    for i in range(5):
        store(project, sentry_event(message=f"boom {i}"))
    real_fold = grouping._fold_into

    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(grouping, "_fold_into", die)
    with pytest.raises(SystemExit):
        grouping.group_pending_events()
    assert ErrorEvent.objects.filter(group__isnull=True).count() == 5
    assert not ErrorGroup.objects.exists()  # the batch rolled back as a whole

    monkeypatch.setattr(grouping, "_fold_into", real_fold)
    result = scan_errors()  # the beat task picks up what the dead worker left
    assert result["grouped"] == 5
    assert ErrorGroup.objects.get().count == 5


def test_an_unparseable_event_does_not_block_the_queue(project, monkeypatch):
    store(project, sentry_event())
    store(project, {"exception": "a string, not a list", "message": 42})
    assert grouping.group_pending_events() == 2
    assert not ErrorEvent.objects.filter(group__isnull=True).exists()


def test_new_groups_are_linked_to_the_deploy_just_before(project):
    deploy = create_deployment(project, "2.0", deployed_at=timezone.now() - timedelta(minutes=10))
    store(project, sentry_event(function="new_bug"), environment="production")
    old = create_deployment(project, "0.9", deployed_at=timezone.now() - timedelta(days=3))
    store(project, sentry_event(function="ancient_bug"), timezone.now() - timedelta(days=2))
    grouping.group_pending_events()
    assert ErrorGroup.objects.get(culprit__endswith="new_bug").deployment == deploy
    assert ErrorGroup.objects.get(culprit__endswith="ancient_bug").deployment is None
    assert old.error_groups.count() == 0


def test_grouping_is_batched(project):
    for i in range(7):
        store(project, sentry_event(message=f"item {i} failed"))
    assert grouping.group_pending_events(batch_size=3) == 7
    assert ErrorGroup.objects.get().count == 7
