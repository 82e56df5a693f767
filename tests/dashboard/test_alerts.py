"""The healing alert rules through monitoring's real alerting: they fire, stay one per cause,
resolve when the cause clears, and arrive by e-mail (Django's outbox) and webhook (a local server)."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.alerts import evaluate_alerts
from monitoring.models import Alert, AlertChannel
from selfheal import services as core
from tests.dashboard.helpers import healing_run

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def channels(project, webhook):
    AlertChannel.objects.create(
        project=project, kind="email", target="ops@example.com, lead@example.com"
    )
    AlertChannel.objects.create(project=project, kind="webhook", target=webhook.url)


def failure_rate_alerts(project):
    return Alert.objects.filter(
        kind="healing_failure_rate", cause=f"healing_failure_rate:{project.pk}"
    )


def test_a_high_healing_failure_rate_pages_once_and_resolves_when_heals_come_back(
    project, channels, webhook, mailoutbox
):
    hour = timedelta(hours=1)
    for i in range(3):
        healing_run(project, NOW - hour * (i + 1), ["failed", "failed", "no_candidate"])
    healing_run(project, NOW - hour, ["passed"])
    evaluate_alerts(NOW)
    assert not failure_rate_alerts(project).exists(), "4 runs are too few to page anyone"

    healing_run(project, NOW - hour, ["improved", "passed"])
    healing_run(project, NOW - 2 * hour, ["passed"])
    summary = evaluate_alerts(NOW)  # 3 of 6 failed: 50%
    alert = failure_rate_alerts(project).get()
    assert alert in summary.opened and alert.status == "open" and alert.severity == "critical"
    assert "3 of 6 auto-fix runs did not heal" in alert.title and "(50%)" in alert.title
    assert alert.body.count("unfixable") == 3

    evaluate_alerts(NOW + timedelta(minutes=1))
    evaluate_alerts(NOW + timedelta(minutes=2))
    assert failure_rate_alerts(project).count() == 1, "one open alert per cause"

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject.startswith("[selfheal] CRITICAL: Healing is failing in Calculator")
    assert sorted(mail.to) == ["lead@example.com", "ops@example.com"]
    assert [b["kind"] for b in webhook.bodies] == ["healing_failure_rate"]
    assert webhook.bodies[0]["severity"] == "critical" and webhook.bodies[0]["status"] == "open"

    for _ in range(4):
        healing_run(project, NOW + timedelta(minutes=2), ["passed"])
    summary = evaluate_alerts(NOW + timedelta(minutes=3))  # 3 of 10: not above 30%
    alert.refresh_from_db()
    assert alert in summary.resolved and alert.status == "resolved"
    assert mailoutbox[-1].subject.startswith("[selfheal] Resolved: Healing is failing")
    assert webhook.bodies[-1]["event"] == "resolved"


def test_old_runs_leave_the_window_and_the_alert_resolves(project, channels):
    for _ in range(5):
        healing_run(project, NOW - timedelta(hours=2), ["failed", "failed", "failed"])
    evaluate_alerts(NOW)
    assert failure_rate_alerts(project).get().status == "open"
    evaluate_alerts(NOW + timedelta(hours=21, minutes=59))  # finished 23 h 59 min ago
    assert failure_rate_alerts(project).get().status == "open"
    evaluate_alerts(NOW + timedelta(hours=22, minutes=1))
    assert failure_rate_alerts(project).get().status == "resolved"


def test_failure_rates_are_per_project_and_skip_runs_still_in_progress(project, user):
    other = core.create_project(user, "Billing")
    for _ in range(5):
        healing_run(other, NOW - timedelta(hours=1), ["failed"])
    for _ in range(5):
        healing_run(project, NOW - timedelta(hours=1), ["passed"])
    # Still being fixed: its failed first attempt is not a finished run.
    for _ in range(5):
        healing_run(project, NOW - timedelta(minutes=5), ["failed"], status="auto_fixing")
    evaluate_alerts(NOW)
    assert not failure_rate_alerts(project).exists()
    assert (
        failure_rate_alerts(other).get().title.startswith("Healing is failing in Billing: 5 of 5")
    )


def test_a_complex_heal_is_an_info_alert_that_resolves_after_a_day(project, webhook, mailoutbox):
    AlertChannel.objects.create(
        project=project, kind="email", target="ops@example.com", min_severity="info"
    )
    AlertChannel.objects.create(
        project=project, kind="webhook", target=webhook.url, min_severity="warning"
    )
    second_try = healing_run(
        project, NOW - timedelta(hours=1), ["failed", "passed"], title="Add hypot"
    )
    by_llm = healing_run(
        project, NOW - timedelta(hours=1), ["passed"], strategy="llm", title="Parse dates"
    )
    healing_run(
        project, NOW - timedelta(hours=1), ["passed"], strategy="rules", title="Simple import"
    )

    evaluate_alerts(NOW)
    evaluate_alerts(NOW + timedelta(minutes=5))
    alerts = Alert.objects.filter(kind="complex_heal").order_by("cause")
    assert sorted(a.cause for a in alerts) == sorted(
        [f"complex_heal:{second_try.pk}", f"complex_heal:{by_llm.pk}"]
    )
    assert {a.severity for a in alerts} == {"info"}
    titles = " | ".join(a.title for a in alerts)
    assert f"#{second_try.pk} Add hypot on attempt 2 with the rules strategy" in titles
    assert f"#{by_llm.pk} Parse dates on attempt 1 with the llm strategy" in titles
    assert sorted(m.subject for m in mailoutbox) == sorted(
        f"[selfheal] INFO: {a.title}" for a in alerts
    )
    assert webhook.bodies == [], "the webhook channel only takes warnings and worse"

    evaluate_alerts(NOW + timedelta(hours=25))
    assert set(Alert.objects.filter(kind="complex_heal").values_list("status", flat=True)) == {
        "resolved"
    }
