"""The /self-healing page and its parts, as a logged-in user sees them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import HealingScan
from monitoring.models import Alert
from patterns.models import CircuitBreaker
from selfheal import services as core
from selfheal.models import Role
from tests.dashboard.helpers import healing_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def test_login_is_required(client):
    response = client.get("/self-healing")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_page_shows_every_section_with_the_readers_data(logged_in, user, project, other_user):
    secret = core.create_project(other_user, "Secret")
    healing_run(
        project, timezone.now() - timedelta(hours=1), ["failed", "passed"], title="Add hypot"
    )
    healing_run(secret, timezone.now() - timedelta(hours=1), ["passed"], title="Hidden fix")
    Alert.objects.create(
        project=project,
        kind="complex_heal",
        cause="c:1",
        severity="info",
        title="Healed it the hard way",
    )
    Alert.objects.create(
        project=secret, kind="complex_heal", cause="c:2", severity="info", title="Not for you"
    )
    CircuitBreaker.objects.create(name="llm", state="open", opened_at=timezone.now(),
                                  next_probe_at=timezone.now() + timedelta(minutes=1))  # fmt: skip

    response = logged_in.get("/self-healing")
    html = response.content.decode()
    assert response.status_code == 200
    for heading in ["Recent healing actions", "Open alerts", "Circuit breakers", "Healing over time",
                    "Learned patterns", "Running experiments", "Run healing scan now"]:  # fmt: skip
        assert heading in html
    assert "Add hypot" in html and "Fix attempt 2 · rules" in html
    assert (
        "Healed it the hard way" in html and "Not for you" not in html and "Hidden fix" not in html
    )
    assert 'id="breaker-llm"' in html and "breaker-open" in html
    assert "No experiments running" in html
    assert html.count("<svg") == 2
    assert 'hx-trigger="every 5s, healing-scan-finished from:body"' in html
    assert '<option value="calculator" >Calculator</option>' in html
    assert "Secret</option>" not in html


def test_the_project_filter_narrows_everything_and_survives_a_reload(logged_in, user, project):
    other = core.create_project(user, "Billing")
    healing_run(project, timezone.now() - timedelta(hours=1), ["passed"], title="Calc fix")
    healing_run(other, timezone.now() - timedelta(hours=1), ["passed"], title="Billing fix")

    html = logged_in.get("/self-healing?project=billing").content.decode()
    assert "Billing fix" in html and "Calc fix" not in html
    assert '<option value="billing" selected>' in html
    assert "/self-healing/parts/actions?project=billing" in html

    part = logged_in.get("/self-healing/parts/actions?project=billing", HTTP_HX_REQUEST="true")
    assert part.status_code == 200 and "Billing fix" in part.content.decode()
    assert "<html" not in part.content.decode() and "Calc fix" not in part.content.decode()


def test_someone_elses_project_or_an_unknown_part_is_not_found(logged_in, other_user):
    core.create_project(other_user, "Secret")
    assert logged_in.get("/self-healing?project=secret").status_code == 404
    assert logged_in.get("/self-healing/parts/actions?project=secret").status_code == 404
    assert logged_in.get("/self-healing/parts/nothing").status_code == 404


@pytest.mark.parametrize(
    "name", ["numbers", "actions", "alerts", "breakers", "patterns", "experiments", "charts"]
)
def test_every_part_renders_alone(logged_in, project, name):
    response = logged_in.get(f"/self-healing/parts/{name}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "<html" not in response.content.decode()


def test_the_scan_button_queues_a_scan_and_the_box_polls_it(
    logged_in, project, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        "dashboard.services.current_app.send_task", lambda *a, **kw: sent.append((a, kw))
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = logged_in.post(
            "/self-healing/scan", {"project": "calculator", "mode": "auto"}, HTTP_HX_REQUEST="true"
        )
    scan = HealingScan.objects.get()
    html = response.content.decode()
    assert response.status_code == 200
    assert sent == [
        (
            ("dashboard.tasks.run_healing_scan",),
            {"args": [scan.pk], "queue": "sandbox", "retry": False},
        )
    ]
    assert (
        f'hx-get="/self-healing/scan/{scan.pk}?project=calculator"' in html
        and 'hx-trigger="every 1s"' in html
    )
    assert 'data-status="queued"' in html and "disabled" in html

    # A second click while it is queued joins the same scan.
    logged_in.post("/self-healing/scan", {"project": "calculator"}, HTTP_HX_REQUEST="true")
    assert HealingScan.objects.count() == 1 and len(sent) == 1

    poll = logged_in.get(f"/self-healing/scan/{scan.pk}?project=calculator", HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 1s"' in poll.content.decode() and "HX-Trigger" not in poll

    HealingScan.objects.filter(pk=scan.pk).update(status="succeeded", progress=1.0, stage="Finished",
                                                  counts={"healed": 2, "events_grouped": 5}, finished_at=timezone.now())  # fmt: skip
    done = logged_in.get(f"/self-healing/scan/{scan.pk}?project=calculator", HTTP_HX_REQUEST="true")
    html = done.content.decode()
    assert done["HX-Trigger"] == "healing-scan-finished"
    assert "every 1s" not in html and 'data-status="succeeded"' in html
    assert "<strong>5</strong> events grouped" in html and "<strong>2</strong> healed" in html


def test_a_viewer_cannot_start_a_scan(client, project, other_user):
    core.add_member(project, other_user, Role.VIEWER)
    client.force_login(other_user)
    page = client.get("/self-healing").content.decode()
    assert "Run healing scan now" not in page and "needs the reviewer role" in page
    response = client.post("/self-healing/scan", {"project": project.slug}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "needs the reviewer role" in response.content.decode()
    assert not HealingScan.objects.exists()


def test_without_htmx_the_scan_form_redirects_back(logged_in, project, monkeypatch):
    monkeypatch.setattr("dashboard.services.current_app.send_task", lambda *a, **kw: None)
    response = logged_in.post("/self-healing/scan", {"project": "calculator"})
    assert (
        response.status_code == 302 and response["Location"] == "/self-healing?project=calculator"
    )
    page = logged_in.get("/self-healing?project=calculator").content.decode()
    assert f"Scan #{HealingScan.objects.get().pk}" in page


def test_a_scan_that_cannot_be_queued_says_so(
    logged_in, project, django_capture_on_commit_callbacks, monkeypatch
):
    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("dashboard.services.current_app.send_task", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        logged_in.post("/self-healing/scan", {"project": "calculator"}, HTTP_HX_REQUEST="true")
    scan = HealingScan.objects.get()
    poll = logged_in.get(f"/self-healing/scan/{scan.pk}?project=calculator", HTTP_HX_REQUEST="true")
    html = poll.content.decode()
    assert 'data-status="failed"' in html and "could not be queued (ConnectionError)" in html
    assert "every 1s" not in html and "disabled" not in html  # the button works again


def test_a_user_with_no_projects_sees_empty_states_not_errors(client, db):
    from django.contrib.auth import get_user_model

    loner = get_user_model().objects.create_user("loner", "loner@example.com", "pw-loner-123")
    client.force_login(loner)
    html = client.get("/self-healing").content.decode()
    assert "No healing actions yet" in html and "No open alerts" in html
    assert "needs the reviewer role in one of your projects" in html
    assert client.get("/api/v1/self-healing/stats").json()["successful_heals"] == 0
