from datetime import UTC, datetime, time, timedelta

import pytest

from patterns import services
from patterns.models import AutoApplyPolicy, ThresholdAdjustment
from patterns.services.policy import measure_queue_depth
from selfheal.models import StoppingPoint
from tests.factories import ProjectFactory

from .helpers import DATES, DATES_FAILURE, PATHS, PATHS_FAILURE, PATHS_FIXED, failing_context, fix

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
NIGHT = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)


def auto_project(**fields):
    return ProjectFactory(
        stopping_point=StoppingPoint.AUTO_APPLY, auto_apply_threshold=0.85, **fields
    )


def test_a_confident_safe_fix_is_applied_when_the_stopping_point_allows():
    decision = services.decide_auto_apply(auto_project(), 0.9, "safe", now=NOON)
    assert decision.apply
    assert decision.effective_threshold == pytest.approx(0.85)
    assert "reaches the threshold 0.85" in decision.reasons[-1]


@pytest.mark.parametrize(
    ("stopping_point", "confidence", "verdict", "reason"),
    [
        (StoppingPoint.ANALYSE_ONLY, 0.99, "safe", "stopping point is analyse_only"),
        (StoppingPoint.PROPOSE_FIX, 0.99, "safe", "stopping point is propose_fix"),
        (StoppingPoint.AUTO_APPLY, 0.84, "safe", "confidence 0.84 is below the threshold 0.85"),
        (StoppingPoint.AUTO_APPLY, 0.99, "risky", "security review says risky"),
        (StoppingPoint.AUTO_APPLY, 0.99, "blocked", "security review says blocked"),
    ],
)
def test_everything_else_goes_to_a_person(stopping_point, confidence, verdict, reason):
    project = ProjectFactory(stopping_point=stopping_point, auto_apply_threshold=0.85)
    decision = services.decide_auto_apply(project, confidence, verdict, now=NOON)
    assert not decision.apply
    assert any(reason in r for r in decision.reasons), decision.reasons


def test_quiet_hours_raise_the_threshold_also_across_midnight():
    project = auto_project()
    AutoApplyPolicy.objects.create(project=project, quiet_hours_start=time(22), quiet_hours_end=time(6),
                                   quiet_hours_raise=0.1)  # fmt: skip
    night = services.decide_auto_apply(project, 0.9, "safe", now=NIGHT)
    assert not night.apply
    assert night.effective_threshold == pytest.approx(0.95)
    assert any("quiet hours (22:00–06:00 UTC)" in r for r in night.reasons)
    assert services.decide_auto_apply(
        project, 0.9, "safe", now=NIGHT + timedelta(hours=4)
    ).effective_threshold == pytest.approx(0.95)
    assert services.decide_auto_apply(project, 0.9, "safe", now=NOON).apply


def test_quiet_hours_are_in_the_projects_time_zone():
    project = auto_project()
    AutoApplyPolicy.objects.create(project=project, quiet_hours_start=time(1), quiet_hours_end=time(5),
                                   timezone="Asia/Tokyo")  # fmt: skip
    # 18:00 UTC is 03:00 in Tokyo.
    assert services.decide_auto_apply(
        project, 0.86, "safe", now=NOON.replace(hour=18)
    ).effective_threshold == pytest.approx(0.90)
    assert services.decide_auto_apply(
        project, 0.86, "safe", now=NOON
    ).effective_threshold == pytest.approx(0.85)


def test_load_raises_the_threshold_and_every_adjustment_is_recorded_with_its_reason():
    busy, calm = auto_project(), auto_project()
    AutoApplyPolicy.objects.create(project=busy, queue_depth_limit=10, queue_depth_raise=0.05,
                                   failure_rate_limit=0.3, failure_rate_raise=0.04)  # fmt: skip
    pattern = learn(busy)
    for success in [False, False, True, False, True]:
        services.record_outcome(pattern.pk, success, project=busy, source="auto_fix")

    services.update_contextual_thresholds(now=timezone_now(), queue_depth=25)
    row = ThresholdAdjustment.objects.get(project=busy)
    assert row.effective_threshold == pytest.approx(0.94)
    assert [a["kind"] for a in row.adjustments] == ["queue_depth", "failure_rate"]
    assert "25 tasks waiting (limit 10)" in row.reasons[0]
    assert "43% of recent heals failed" in row.reasons[1]  # 3 of the 7 outcomes (2 learned)
    calm_row = ThresholdAdjustment.objects.get(project=calm)  # the queue is everybody's
    assert [a["kind"] for a in calm_row.adjustments] == ["queue_depth"]
    assert calm_row.effective_threshold == pytest.approx(0.90)

    decision = services.decide_auto_apply(busy, 0.9, "safe")
    assert not decision.apply and decision.effective_threshold == pytest.approx(0.94)
    assert any("tasks waiting" in r for r in decision.reasons)
    assert services.decide_auto_apply(calm, 0.9, "safe").apply


def test_an_unchanged_state_confirms_the_last_row_and_a_stale_one_stops_counting():
    project = auto_project()
    AutoApplyPolicy.objects.create(project=project, queue_depth_limit=10)
    start = timezone_now()
    services.update_contextual_thresholds(now=start, queue_depth=50)
    services.update_contextual_thresholds(now=start + timedelta(minutes=5), queue_depth=60)
    row = ThresholdAdjustment.objects.get(project=project)  # still one row: the same adjustment
    assert row.confirmed_at == start + timedelta(minutes=5)
    services.update_contextual_thresholds(now=start + timedelta(minutes=10), queue_depth=0)
    assert ThresholdAdjustment.objects.filter(project=project).count() == 2

    services.update_contextual_thresholds(now=start + timedelta(minutes=15), queue_depth=50)
    later = start + timedelta(minutes=15) + timedelta(hours=1)  # the beat stopped: load unknown
    assert services.decide_auto_apply(project, 0.86, "safe", now=later).apply


def test_a_pattern_that_starts_failing_stops_being_auto_applied():
    project = auto_project()
    pattern = learn(project)  # 2 successes
    for _ in range(8):
        services.record_outcome(pattern.pk, True, project=project, source="auto_fix")
    context = failing_context(DATES, *DATES_FAILURE)
    (candidate,) = services.TemplateFixer(project).propose(context)
    assert candidate.confidence == pytest.approx(11 / 12)
    assert services.decide_auto_apply(project, candidate.confidence, "safe").apply

    for _ in range(3):
        services.record_outcome(pattern.pk, False, project=project, source="auto_fix")
    (candidate,) = services.TemplateFixer(project).propose(context)
    assert candidate.confidence == pytest.approx(11 / 15)
    decision = services.decide_auto_apply(project, candidate.confidence, "safe")
    assert not decision.apply
    assert "confidence 0.73 is below the threshold 0.85" in decision.reasons[-1]


def test_the_queue_depth_is_read_from_the_broker(settings):
    from selfheal.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("needs the Redis broker (CELERY_BROKER_URL=redis://...)")
    app.control.purge()
    try:
        before = measure_queue_depth()
        for _ in range(3):
            app.send_task("patterns.tasks.quality_checks", queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        assert measure_queue_depth() == before + 3
    finally:
        app.control.purge()


def test_an_unreachable_broker_gives_no_depth_rather_than_an_error(monkeypatch):
    from kombu import Connection

    from selfheal.celery import app

    monkeypatch.setattr(app, "connection_for_read", lambda: Connection("redis://127.0.0.1:1/0"))
    assert measure_queue_depth() is None


def learn(project):
    """An active pattern (two fixes of two failures); returns it with 2 successes."""
    for files in (PATHS, {"p.py": "def f():\n    return sys.argv\n"}):
        path = next(iter(files))
        failure = (
            PATHS_FAILURE
            if files is PATHS
            else ("NameError", "name 'sys' is not defined", ("p.py", 2))
        )
        fixed = PATHS_FIXED if files is PATHS else "import sys\n\n\ndef f():\n    return sys.argv\n"
        context = failing_context(files, *failure)
        pattern = services.learn_from_fix(project, context, fix(context, path, fixed), "rules")
    return pattern


def timezone_now():
    from django.utils import timezone

    return timezone.now()
