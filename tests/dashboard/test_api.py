"""POST /api/v1/self-healing/scan, GET its status, GET /api/v1/self-healing/stats."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import HealingScan
from monitoring.jobs import create_job
from selfheal import services as core
from selfheal.models import Role
from tests.dashboard.helpers import healing_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """The scan tasks sent to the broker (recorded instead of sent)."""
    messages = []
    monkeypatch.setattr(
        "dashboard.services.current_app.send_task", lambda name, **kw: messages.append((name, kw))
    )
    return messages


def post_scan(api_client, body, capture):
    with capture(execute=True):
        return api_client.post("/api/v1/self-healing/scan", body, content_type="application/json")


def test_a_scan_is_accepted_and_followed_at_its_status_url(
    api_client, project, sent, django_capture_on_commit_callbacks
):
    response = post_scan(api_client, {"mode": "auto"}, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    body = response.json()
    scan = HealingScan.objects.get()
    assert body["id"] == scan.pk and body["status"] == "queued" and body["created"] is True
    assert body["status_url"] == f"/api/v1/self-healing/scan/{scan.pk}"
    assert sent == [
        (
            "dashboard.tasks.run_healing_scan",
            {"args": [scan.pk], "queue": "sandbox", "retry": False},
        )
    ]

    again = post_scan(api_client, {}, django_capture_on_commit_callbacks)  # mode defaults to auto
    assert (
        again.status_code == 202
        and again.json()["id"] == scan.pk
        and again.json()["created"] is False
    )

    HealingScan.objects.filter(pk=scan.pk).update(
        status="running", progress=0.5, stage="Auto-fixing proposal #3 (1 of 2)"
    )
    status = api_client.get(body["status_url"]).json()
    assert (status["status"], status["progress"], status["stage"]) == (
        "running",
        0.5,
        "Auto-fixing proposal #3 (1 of 2)",
    )


def test_a_bad_mode_is_refused_with_the_reason(api_client, project, sent):
    response = api_client.post(
        "/api/v1/self-healing/scan", {"mode": "yolo"}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "auto" in str(response.json()["detail"])
    assert not HealingScan.objects.exists() and not sent


def test_a_job_scans_its_project(
    api_client, user, project, sent, django_capture_on_commit_callbacks, other_user
):
    billing = core.create_project(user, "Billing")
    job = create_job(billing, "invoice run")
    response = post_scan(
        api_client, {"mode": "auto", "job_id": job.pk}, django_capture_on_commit_callbacks
    )
    assert response.status_code == 202
    assert (response.json()["project"], response.json()["job_id"]) == ("billing", job.pk)

    foreign = create_job(core.create_project(other_user, "Secret"), "their job")
    for body in ({"job_id": foreign.pk}, {"job_id": 10**9}):
        refused = post_scan(api_client, body, django_capture_on_commit_callbacks)
        assert refused.status_code == 404 and "not found" in refused.json()["detail"]
    mismatch = post_scan(
        api_client, {"job_id": job.pk, "project": project.slug}, django_capture_on_commit_callbacks
    )
    assert mismatch.status_code == 400 and "does not belong" in mismatch.json()["detail"]
    assert (
        post_scan(api_client, {"project": "secret"}, django_capture_on_commit_callbacks).status_code
        == 404
    )


def test_a_viewer_may_not_scan_and_nobody_sees_someone_elses_scan(
    client, project, other_user, user, sent
):
    core.add_member(project, other_user, Role.VIEWER)
    _, key = core.create_api_key(other_user, "viewer")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    refused = client.post(
        "/api/v1/self-healing/scan", {}, content_type="application/json", **headers
    )
    assert refused.status_code == 403 and "reviewer role" in refused.json()["detail"]

    mine = HealingScan.objects.create(
        requested_by=user, project_ids=[project.pk]
    )  # all my projects
    assert client.get(f"/api/v1/self-healing/scan/{mine.pk}", **headers).status_code == 404
    assert client.get("/api/v1/self-healing/scan/999999", **headers).status_code == 404


def test_a_broker_that_refuses_the_task_is_a_503(
    api_client, project, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no broker")

    monkeypatch.setattr("dashboard.services.current_app.send_task", refuse)
    # Outside a transaction, as in production: the send happens when the scan row commits.
    monkeypatch.setattr("dashboard.services.transaction.on_commit", lambda send: send())
    response = api_client.post("/api/v1/self-healing/scan", {}, content_type="application/json")
    assert response.status_code == 503 and "could not be queued" in response.json()["detail"]
    assert HealingScan.objects.get().status == "failed"


def test_stats_are_the_dashboards_headline_numbers(api_client, user, project):
    billing = core.create_project(user, "Billing")
    now = timezone.now()
    healing_run(project, now - timedelta(hours=2), ["failed", "passed"], confidence=0.7)
    healing_run(project, now - timedelta(hours=3), ["failed"])
    healing_run(billing, now - timedelta(hours=1), ["passed"], confidence=0.9)

    everything = api_client.get("/api/v1/self-healing/stats").json()
    assert everything["project"] is None
    assert (everything["successful_heals"], everything["finished_runs"]) == (2, 3)
    assert everything["success_rate"] == pytest.approx(2 / 3)
    assert everything["average_confidence"] == pytest.approx(0.8)
    assert everything["mean_time_to_heal_seconds"] == pytest.approx((120 + 60) / 2)

    calc = api_client.get(f"/api/v1/self-healing/stats?project={project.slug}").json()
    assert (calc["project"], calc["successful_heals"], calc["success_rate"]) == (
        "calculator",
        1,
        0.5,
    )
    assert api_client.get("/api/v1/self-healing/stats?project=nope").status_code == 404


def test_the_stats_endpoint_carries_the_learning_and_the_healing_numbers(api_client, project):
    healing_run(project, timezone.now() - timedelta(hours=1), ["failed", "passed"], confidence=0.7)
    stats = api_client.get(f"/api/v1/stats?project={project.slug}").json()
    assert stats["project"] == project.slug
    assert {"patterns_learned", "success_rate", "per_category"} <= set(stats)
    assert stats["healing"]["successful_heals"] == 1
    assert stats["healing"]["success_rate"] == 1.0
