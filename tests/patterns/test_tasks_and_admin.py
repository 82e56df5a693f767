from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from patterns import services, tasks
from patterns.models import AutoApplyPolicy, Pattern, PatternStatus, ThresholdAdjustment
from selfheal.beat import BEAT_SCHEDULE
from selfheal.celery import app
from tests.factories import ProjectFactory

from .helpers import PATHS, PATHS_FAILURE, PATHS_FIXED, failing_context, fix

pytestmark = pytest.mark.django_db


def learn(project):
    context = failing_context(PATHS, *PATHS_FAILURE)
    return services.learn_from_fix(project, context, fix(context, "paths.py", PATHS_FIXED), "rules")


def test_every_patterns_beat_entry_names_a_registered_task():
    names = [entry.task for entry in BEAT_SCHEDULE if entry.task.startswith("patterns.")]
    assert sorted(names) == [
        "patterns.tasks.decay_patterns", "patterns.tasks.quality_checks",
        "patterns.tasks.self_improvement", "patterns.tasks.update_contextual_thresholds",
    ]  # fmt: skip
    app.loader.import_default_modules()
    for name in names:
        assert name in app.tasks


def test_decay_task_with_a_given_clock(settings):
    settings.PATTERNS_DECAY_DAYS = 10
    pattern = learn(ProjectFactory())
    later = (timezone.now() + timedelta(days=11)).isoformat()
    assert tasks.decay_patterns.apply(kwargs={"now": later}).get() == {"deprecated": [pattern.pk]}
    assert Pattern.objects.get(pk=pattern.pk).status == PatternStatus.DEPRECATED


def test_threshold_task_records_every_project(monkeypatch):
    monkeypatch.setattr("patterns.services.policy.measure_queue_depth", lambda: 3)
    project = ProjectFactory()
    AutoApplyPolicy.objects.create(project=project, queue_depth_limit=2)
    result = tasks.update_contextual_thresholds.apply().get()
    assert result[str(project.pk)] == pytest.approx(0.90)
    assert (
        "3 tasks waiting (limit 2)" in ThresholdAdjustment.objects.get(project=project).reasons[0]
    )


def test_quality_checks_and_the_weekly_self_improvement_run_from_their_tasks():
    from patterns.models import ImprovementRun

    assert tasks.quality_checks.apply().get()["detail"] == "no open experiment"
    result = tasks.self_improvement.apply().get()
    assert ImprovementRun.objects.get(pk=result["run"]).trigger == "beat"


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-12345")


def test_admin_pages_render(client, superuser):
    pattern = learn(ProjectFactory())
    services.record_outcome(pattern.pk, False, project=None, source="auto_fix", detail="no luck")
    services.get_breaker("llm")
    services.update_contextual_thresholds(queue_depth=0, measure=False)
    client.force_login(superuser)
    for url in [
        "/admin/patterns/pattern/", f"/admin/patterns/pattern/{pattern.pk}/change/",
        "/admin/patterns/patternoutcome/", "/admin/patterns/circuitbreaker/",
        f"/admin/patterns/circuitbreaker/{services.get_breaker('llm').pk}/change/",
        "/admin/patterns/thresholdadjustment/", "/admin/patterns/autoapplypolicy/add/",
    ]:  # fmt: skip
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/admin/patterns/pattern/{pattern.pk}/change/").content.decode()
    assert "insert_import" in page and "no luck" in page and "credible interval" in page


def test_a_superuser_approves_a_candidate_pattern_in_the_admin(client, superuser):
    pattern = learn(ProjectFactory())
    client.force_login(superuser)
    response = client.post(
        "/admin/patterns/pattern/", {"action": "promote", "_selected_action": [pattern.pk]}
    )
    assert response.status_code == 302
    pattern.refresh_from_db()
    assert pattern.status == PatternStatus.ACTIVE
    assert pattern.status_reason == "approved by root"


def test_staff_who_are_not_superusers_cannot_change_shared_patterns(client):
    pattern = learn(ProjectFactory())
    staff = get_user_model().objects.create_user("staff", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_pattern", "change_pattern"])
    )
    client.force_login(staff)
    response = client.post(
        "/admin/patterns/pattern/", {"action": "deprecate", "_selected_action": [pattern.pk]}
    )
    assert response.status_code == 403
    assert Pattern.objects.get(pk=pattern.pk).status == PatternStatus.CANDIDATE


def test_closing_a_circuit_from_the_admin(client, superuser):
    row = services.get_breaker("webhook")
    row.state = "open"
    row.opened_at = row.next_probe_at = timezone.now()
    row.save()
    client.force_login(superuser)
    client.post(
        "/admin/patterns/circuitbreaker/", {"action": "close_circuit", "_selected_action": [row.pk]}
    )
    assert services.breaker_status("webhook").state == "closed"
    assert services.breaker_status("webhook").transitions[0]["reason"] == "closed by hand by root"
