"""Deployments: correlation, the rate test's verdict, rollback, and the alert it raises."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from monitoring import alerts, deployments, grouping, tasks
from monitoring.events import store_events
from monitoring.ingest import EventData
from monitoring.models import Alert, AlertChannel, AlertDelivery, Deployment, ErrorGroup, Rollback

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def errors_at(project, times, function="checkout", exc_type="ValueError"):
    events = []
    for when in times:
        event_id = uuid.uuid4()
        payload = {
            "event_id": event_id.hex,
            "level": "error",
            "exception": {"values": [{"type": exc_type, "value": "boom", "stacktrace": {"frames": [
                {"filename": "shop/views.py", "module": "shop.views", "function": function, "lineno": 3, "in_app": True}]}}]},
        }  # fmt: skip
        events.append(EventData(event_id, when, "error", "", "production", payload))
    with transaction.atomic():
        store_events(project.pk, events, "sentry")


@pytest.fixture
def channels(project, hook_server):
    AlertChannel.objects.create(
        project=project, kind="email", target="ops@example.com, dev@example.com"
    )
    AlertChannel.objects.create(project=project, kind="webhook", target=hook_server.url("/alerts"))
    AlertChannel.objects.create(project=project, kind="webhook", target=hook_server.url("/never"), min_severity="critical", enabled=False)  # fmt: skip


def test_a_deploy_followed_by_a_burst_is_bad_rolled_back_and_alerted(
    project, hook_server, channels, settings
):
    settings.MONITORING_WEBHOOK_BACKOFF_SECONDS = 0.01
    hook_server.statuses = [502]  # the rollback endpoint fails once, then works
    project.rollback_webhook_url = hook_server.url("/rollback")
    project.save()
    # A quiet hour: three errors of an old bug.
    errors_at(project, [NOW - timedelta(minutes=m) for m in (70, 50, 35)], function="old_bug")
    good = deployments.create_deployment(project, "1.4.0", deployed_at=NOW - timedelta(hours=5))
    deploy = deployments.create_deployment(
        project, "1.5.0", commit="abc123", deployed_at=NOW - timedelta(minutes=30)
    )
    # Then a burst of a new error after the deploy.
    errors_at(
        project,
        [NOW - timedelta(minutes=25) + timedelta(seconds=20 * i) for i in range(40)],
        function="new_bug",
    )
    grouping.group_pending_events()

    result = tasks.check_deployments(now=NOW.isoformat())
    assert {"deployment": deploy.pk, "health": "bad"} in result
    deploy.refresh_from_db()
    assert deploy.health == "bad"
    assert (deploy.events_before, deploy.events_after) == (3, 40)
    assert deploy.p_value < 1e-6
    assert "40 errors" in deploy.health_reason
    new_group = ErrorGroup.objects.get(culprit__endswith="new_bug")
    assert new_group.deployment == deploy

    rollback_calls = [r for r in hook_server.requests if r["path"] == "/rollback"]
    assert len(rollback_calls) == 2  # 502, then retried
    assert rollback_calls[-1]["json"]["bad_deployment"]["version"] == "1.5.0"
    assert rollback_calls[-1]["json"]["roll_back_to"]["version"] == "1.4.0"
    rollback = Rollback.objects.get(deployment=deploy)
    assert rollback.succeeded and rollback.attempts == 2 and rollback.status_code == 200

    alert = Alert.objects.get(cause=f"bad_deploy:{deploy.pk}")
    assert alert.severity == "critical" and alert.status == "open"
    assert len(mail.outbox) == 1
    assert "1.5.0" in mail.outbox[0].subject and mail.outbox[0].to == [
        "ops@example.com",
        "dev@example.com",
    ]
    alert_hooks = [r for r in hook_server.requests if r["path"] == "/alerts"]
    assert [r["json"]["event"] for r in alert_hooks] == ["opened"]
    assert not [r for r in hook_server.requests if r["path"] == "/never"]

    # Checking again changes nothing: bad is final, no second rollback, no second alert.
    tasks.check_deployments(now=(NOW + timedelta(minutes=5)).isoformat())
    tasks.evaluate_alerts(now=(NOW + timedelta(minutes=5)).isoformat())
    assert Rollback.objects.count() == 1
    assert Alert.objects.count() == 1 and len(mail.outbox) == 1
    good.refresh_from_db()
    assert good.health == "healthy"  # long before, nothing changed after it

    # The rollback lands as a new deploy: the alert's cause clears and it resolves.
    deployments.create_deployment(project, "1.4.0", deployed_at=NOW + timedelta(minutes=6))
    summary = alerts.evaluate_alerts(NOW + timedelta(minutes=7))
    assert [a.pk for a in summary.resolved] == [alert.pk]
    assert len(mail.outbox) == 2 and mail.outbox[1].subject.startswith("[selfheal] Resolved")


def test_a_deploy_with_the_same_error_rate_is_healthy_after_its_window(project):
    errors_at(project, [NOW - timedelta(minutes=65 + 10 * i) for i in range(6)])  # one per 10 min
    deploy = deployments.create_deployment(project, "2.0", deployed_at=NOW - timedelta(minutes=60))
    errors_at(project, [NOW - timedelta(minutes=55 - 10 * i) for i in range(6)])
    checks = deployments.check_deployments(NOW - timedelta(minutes=30))
    assert [c.health for c in checks] == ["pending"]  # no verdict while watching
    checks = deployments.check_deployments(NOW + timedelta(minutes=1))
    assert [c.health for c in checks] == ["healthy"]
    deploy.refresh_from_db()
    assert deploy.rate_ratio == pytest.approx(1.0)
    assert not Alert.objects.exists()


def test_no_verdict_in_the_first_minutes(project):
    deploy = deployments.create_deployment(project, "3.0", deployed_at=NOW)
    errors_at(project, [NOW + timedelta(seconds=5)] * 1)
    assert deployments.evaluate_deployment(deploy, NOW + timedelta(minutes=1)).health == "pending"


def test_illegal_health_transitions_raise():
    from monitoring.models import IllegalTransition

    deploy = Deployment(health="bad")
    with pytest.raises(IllegalTransition):
        deploy.transition_to("healthy")


def test_alerts_deduplicate_and_retry_failed_deliveries(project, hook_server):
    AlertChannel.objects.create(project=project, kind="webhook", target=hook_server.url())
    hook_server.statuses = [500]
    condition = alerts.AlertCondition(project.pk, "test:1", "warning", "Something is off")
    first, created = alerts.raise_alert("test", condition, NOW)
    again, created_again = alerts.raise_alert("test", condition, NOW)
    assert created and not created_again and first.pk == again.pk
    assert alerts.deliver_pending(NOW) == 0
    delivery = AlertDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and "500" in delivery.last_error
    assert alerts.deliver_pending(NOW) == 0  # not due yet: backoff
    assert alerts.deliver_pending(NOW + timedelta(minutes=2)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "sent"
    assert len(hook_server.requests) == 2


def test_deployments_api(api_client, project, other_user):
    response = api_client.post(
        "/api/v1/deployments",
        {"project": project.slug, "version": "9.1", "commit": "deadbeef", "environment": "staging"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["health"] == "pending" and body["environment"] == "staging"
    listed = api_client.get(f"/api/v1/deployments?project={project.slug}").json()
    assert [d["version"] for d in listed] == ["9.1"]
    assert api_client.get(f"/api/v1/deployments/{body['id']}").status_code == 200
    missing = api_client.post(
        "/api/v1/deployments", {"project": "nope", "version": "1"}, content_type="application/json"
    )
    assert missing.status_code == 404
    empty = api_client.post(
        "/api/v1/deployments",
        {"project": project.slug, "version": ""},
        content_type="application/json",
    )
    assert empty.status_code in (400, 422)
