"""Job pings over HTTP, and stuck / failed / slow detection driven by a controlled clock."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import alerts, jobs, tasks
from monitoring.models import HealingAction, JobRun, PingKind

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)


def at(minutes: float = 0, seconds: float = 0):
    return T0 + timedelta(minutes=minutes, seconds=seconds)


@pytest.fixture
def job(project):
    return jobs.create_job(project, "Nightly export")


# --- pings over HTTP ----------------------------------------------------------------------------


def test_start_progress_success(client, job):
    base = f"/ping/{job.ping_key}"
    assert client.get(f"{base}/start").status_code == 200
    assert client.post(f"{base}/progress?value=25", data=b"a quarter done", content_type="text/plain").status_code == 200  # fmt: skip
    run = JobRun.objects.get(job=job)
    assert run.status == "running" and run.progress == 25
    assert run.log == "a quarter done"
    assert client.head(base).status_code == 200  # success
    run.refresh_from_db()
    job.refresh_from_db()
    assert run.status == "succeeded" and run.duration is not None
    assert job.status == "up"
    assert list(job.pings.order_by("created_at").values_list("kind", flat=True)) == [
        "start", "progress", "success",
    ]  # fmt: skip


def test_fail_and_exit_codes(client, job):
    base = f"/ping/{job.ping_key}"
    client.post(f"{base}/fail", data=b"Traceback: disk full", content_type="text/plain")
    failed = JobRun.objects.get(job=job)
    assert failed.status == "failed" and "disk full" in failed.log
    client.get(f"{base}/start")
    client.get(f"{base}/3")
    assert JobRun.objects.filter(job=job, exit_code=3, status="failed").exists()
    client.get(f"{base}/0")
    assert JobRun.objects.filter(job=job, exit_code=0, status="succeeded").exists()


def test_run_ids_tell_overlapping_runs_apart(client, job):
    base = f"/ping/{job.ping_key}"
    first, second = uuid.uuid4(), uuid.uuid4()
    client.get(f"{base}/start?rid={first}")
    client.get(f"{base}/start?rid={second}")
    client.get(f"{base}/progress?rid={second}&value=50")
    client.get(f"{base}?rid={first}")
    assert JobRun.objects.get(rid=first).status == "succeeded"
    run = JobRun.objects.get(rid=second)
    assert run.status == "running" and run.progress == 50


def test_a_new_start_without_rid_supersedes_the_open_run(client, job):
    base = f"/ping/{job.ping_key}"
    client.get(f"{base}/start")
    client.get(f"{base}/start")
    statuses = list(JobRun.objects.filter(job=job).order_by("id").values_list("status", flat=True))
    assert statuses == ["failed", "running"]
    assert jobs.detect_job_problems(timezone.now()) == []  # superseded, nothing to heal


def test_bad_pings(client, job):
    base = f"/ping/{job.ping_key}"
    assert client.get(f"/ping/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{base}/progress?value=lots").status_code == 400
    assert client.get(f"{base}/progress?value=nan").status_code == 400
    assert client.get(f"{base}/start?rid=not-a-uuid").status_code == 400
    response = client.get(f"{base}/explode")
    assert response.status_code == 400 and b"explode" in response.content
    assert client.get(f"{base}/999").status_code == 400
    assert client.get(f"{base}/²").status_code == 400
    assert not JobRun.objects.exists()


# --- detection and healing ----------------------------------------------------------------------


def test_stuck_job_is_detected_once_and_its_webhook_called_once(job, hook_server):
    job.retry_webhook_url = hook_server.url("/retry")
    job.save()
    jobs.record_ping(job, PingKind.START, now=at(0))
    jobs.record_ping(job, PingKind.PROGRESS, value=25, now=at(1))
    assert tasks.detect_job_problems(now=at(5, 59).isoformat()) == []  # not yet 5 minutes quiet
    found = tasks.detect_job_problems(now=at(6, 1).isoformat())
    assert [d["problem"] for d in found] == ["stuck"]
    assert len(hook_server.requests) == 1
    call = hook_server.requests[0]
    assert call["path"] == "/retry"
    assert call["json"]["problem"] == "stuck" and call["json"]["progress"] == 25
    # Later cycles do not call again for the same run.
    assert tasks.detect_job_problems(now=at(20).isoformat()) == []
    assert len(hook_server.requests) == 1
    job.refresh_from_db()
    assert job.status == "stuck"
    action = HealingAction.objects.get()
    assert action.called_ok and action.problem == "stuck" and action.outcome == "pending"
    # The retried job runs and succeeds: the action worked.
    jobs.record_ping(job, PingKind.START, now=at(21))
    jobs.record_ping(job, PingKind.SUCCESS, now=at(25))
    action.refresh_from_db()
    assert action.outcome == "recovered"


def test_per_job_stuck_threshold(job):
    job.stuck_after = timedelta(minutes=30)
    job.save()
    jobs.record_ping(job, PingKind.START, now=at(0))
    assert jobs.detect_job_problems(at(29)) == []
    assert [d.problem for d in jobs.detect_job_problems(at(31))] == ["stuck"]


def test_failed_job_is_healed_once_and_a_failing_retry_raises_an_alert(job, hook_server):
    job.retry_webhook_url = hook_server.url()
    job.save()
    jobs.record_ping(job, PingKind.START, now=at(0))
    jobs.record_ping(job, PingKind.FAIL, body="boom", now=at(1))
    assert [d.problem for d in jobs.detect_job_problems(at(2))] == ["failed"]
    assert jobs.detect_job_problems(at(3)) == []
    assert len(hook_server.requests) == 1
    # The retry runs and fails again: healing did not recover the job.
    jobs.record_ping(job, PingKind.START, now=at(4))
    jobs.record_ping(job, PingKind.FAIL, now=at(5))
    assert HealingAction.objects.get().outcome == "not_recovered"
    summary = alerts.evaluate_alerts(at(6))
    assert [a.cause for a in summary.opened] == [f"job_unrecovered:{job.pk}"]
    assert summary.opened[0].severity == "critical"
    # The job recovers on its own: the alert resolves.
    jobs.detect_job_problems(at(6))  # heals the second failure too (its own action)
    jobs.record_ping(job, PingKind.SUCCESS, now=at(7))
    summary = alerts.evaluate_alerts(at(8))
    assert [a.cause for a in summary.resolved] == [f"job_unrecovered:{job.pk}"]


def test_a_webhook_that_errors_is_recorded(job, hook_server):
    hook_server.statuses = [500]
    job.retry_webhook_url = hook_server.url()
    job.save()
    jobs.record_ping(job, PingKind.FAIL, now=at(0))
    jobs.detect_job_problems(at(1))
    action = HealingAction.objects.get()
    assert not action.called_ok
    assert "500" in action.detail
    assert action.outcome == "not_recovered"


def test_slow_against_the_expected_duration(job, hook_server):
    job.expected_duration = timedelta(minutes=2)
    job.retry_webhook_url = hook_server.url()
    job.save()
    jobs.record_ping(job, PingKind.START, now=at(0))
    jobs.record_ping(job, PingKind.PROGRESS, value=10, now=at(1, 30))
    assert jobs.detect_job_problems(at(1, 59)) == []
    assert [d.problem for d in jobs.detect_job_problems(at(2, 30))] == ["slow"]
    assert jobs.detect_job_problems(at(3)) == []
    assert hook_server.requests == []  # slow is reported, not retried, unless asked for


def test_slow_against_the_p95_of_recent_runs_with_retry(job, hook_server):
    job.retry_webhook_url = hook_server.url()
    job.retry_when_slow = True
    job.save()
    for i in range(6):  # six 10-second runs: the threshold is 1.5 x 10 s = 15 s
        jobs.record_ping(job, PingKind.START, now=at(i))
        jobs.record_ping(job, PingKind.SUCCESS, now=at(i, 10))
    assert jobs.detect_job_problems(at(7)) == []
    jobs.record_ping(job, PingKind.START, now=at(10))
    jobs.record_ping(job, PingKind.SUCCESS, now=at(10, 14))  # 14 s: fine
    jobs.record_ping(job, PingKind.START, now=at(11))
    jobs.record_ping(job, PingKind.SUCCESS, now=at(11, 25))  # 25 s: slow
    found = jobs.detect_job_problems(at(12))
    assert [d.problem for d in found] == ["slow"]
    assert JobRun.objects.get(pk=found[0].run_id).duration == timedelta(seconds=25)
    assert len(hook_server.requests) == 1 and hook_server.requests[0]["json"]["problem"] == "slow"
    assert jobs.detect_job_problems(at(13)) == []


def test_healing_by_re_enqueueing_a_celery_task(job, broker):
    task_name = f"jobs.tasks.export_{uuid.uuid4().hex[:8]}"
    job.retry_task_name = task_name
    job.save()
    jobs.record_ping(job, PingKind.START, now=at(0))
    jobs.detect_job_problems(at(10))
    try:
        sent = broker.sent("celery", task_name)
        assert len(sent) == 1
        action = HealingAction.objects.get()
        assert action.kind == "celery_task" and action.called_ok and sent[0]["id"] in action.detail
    finally:
        broker.forget("celery", task_name)


def test_percentile():
    assert jobs.percentile([1, 2, 3, 4, 5], 50) == 3
    assert jobs.percentile([10] * 6, 95) == 10
    assert jobs.percentile([0, 10], 95) == pytest.approx(9.5)
