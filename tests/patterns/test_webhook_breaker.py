"""Outgoing webhooks go through a circuit breaker per host; an open breaker is a warning alert."""

import pytest

from monitoring.alerts import evaluate_alerts
from monitoring.models import Alert
from monitoring.webhooks import post_json
from patterns.services import breaker_status, reset_breaker
from tests.monitoring.conftest import RecordingServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_server():
    server = RecordingServer()
    server.statuses = [500] * 50
    yield server
    server.close()


def test_a_failing_webhook_host_opens_its_circuit_and_is_then_left_alone(failing_server):
    results = [post_json(failing_server.url(), {"n": n}) for n in range(8)]
    sent = len(failing_server.requests)

    assert breaker_status("webhook:127.0.0.1").state == "open"
    assert sent < 8  # once open, nothing more reached the host
    refused = results[-1]
    assert not refused.ok and refused.attempts == 0 and "open" in refused.detail

    alert = evaluate_alerts().opened[0]
    assert (alert.kind, alert.severity) == ("circuit_open", "warning")
    assert "webhook:127.0.0.1" in alert.title

    reset_breaker("webhook:127.0.0.1", "the receiver is back")
    failing_server.statuses = []
    assert post_json(failing_server.url(), {"n": "again"}).ok
    evaluate_alerts()
    assert Alert.objects.get(pk=alert.pk).status == "resolved"
