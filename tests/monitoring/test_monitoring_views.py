"""The screens: what a logged-in member sees, and what nobody else does."""

import pytest

from monitoring import deployments, grouping, jobs
from monitoring.errors import ErrorSubmission, submit_error
from monitoring.models import ErrorGroup, PingKind
from selfheal import services

pytestmark = pytest.mark.django_db

TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/shop/cart.py", line 9, in total
    return sum(prices) / len(prices)
ZeroDivisionError: division by zero
"""


@pytest.fixture
def member(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def group(project):
    submit_error(project, ErrorSubmission(stacktrace=TRACEBACK, release="1.0"))
    submit_error(project, ErrorSubmission(type="KeyError", message="'sku'"))
    grouping.group_pending_events()
    return ErrorGroup.objects.get(project=project, exc_type="ZeroDivisionError")


def test_pages_need_a_login(client, group):
    for url in ("/errors/", f"/errors/{group.pk}/", "/jobs/", "/deployments/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_error_list_with_filters_and_the_dsn(member, project, group):
    page = member.get("/errors/").content.decode()
    assert "ZeroDivisionError: division by zero" in page and "KeyError" in page
    assert f"@127.0.0.1:8000/{project.pk}" in page and project.public_key in page
    only_key = member.get("/errors/?category=key").content.decode()
    assert "KeyError" in only_key and "ZeroDivisionError" not in only_key
    partial = member.get("/errors/?status=resolved", HTTP_HX_REQUEST="true").content.decode()
    assert "No error groups match" in partial and "<html" not in partial


def test_error_page_shows_the_trace_chart_and_actions(member, group):
    page = member.get(f"/errors/{group.pk}/").content.decode()
    assert "return sum(prices) / len(prices)" in page and "cart.py:9" in page
    assert "<svg" in page and "peak 1" in page
    assert "Open repair proposal" in page and "Mark resolved" in page
    assert "not linked to a deployment" in page


def test_repair_button(member, group, broker):
    try:
        response = member.post(f"/errors/{group.pk}/repair", follow=True)
        assert "repair proposal is being opened" in response.content.decode()
        group.refresh_from_db()
        assert group.status == "healing"
        assert [m["args"] for m in broker.sent("sandbox", "proposals.tasks.open_repair_proposal")].count([group.pk]) == 1  # fmt: skip
        again = member.post(f"/errors/{group.pk}/repair", follow=True).content.decode()
        assert "cannot go from healing to healing" in again
    finally:
        broker.forget("sandbox", "proposals.tasks.open_repair_proposal")


def test_status_buttons(member, group):
    member.post(f"/errors/{group.pk}/status", {"status": "ignored"})
    group.refresh_from_db()
    assert group.status == "ignored"
    response = member.post(f"/errors/{group.pk}/status", {"status": "resolved"}, follow=True)
    assert "cannot go from ignored to resolved" in response.content.decode()


def test_other_people_see_nothing(client, other_user, group):
    client.force_login(other_user)
    assert "ZeroDivisionError" not in client.get("/errors/").content.decode()
    assert client.get(f"/errors/{group.pk}/").status_code == 404
    client.post(f"/errors/{group.pk}/status", {"status": "ignored"})
    group.refresh_from_db()
    assert group.status == "unresolved"


def test_viewers_can_look_but_not_act(client, other_user, project, group):
    services.add_member(project, other_user, "viewer")
    client.force_login(other_user)
    assert client.get(f"/errors/{group.pk}/").status_code == 200
    response = client.post(f"/errors/{group.pk}/status", {"status": "ignored"}, follow=True)
    assert "reviewer" in response.content.decode()
    group.refresh_from_db()
    assert group.status == "unresolved"


def test_jobs_and_deployments_pages(member, project):
    job = jobs.create_job(project, "Nightly export")
    jobs.record_ping(job, PingKind.START)
    jobs.record_ping(job, PingKind.PROGRESS, value=40, body="working")
    listing = member.get("/jobs/").content.decode()
    assert "Nightly export" in listing and str(job.ping_key) in listing and "running" in listing
    detail = member.get(f"/jobs/{job.pk}/").content.decode()
    assert "40.0" in detail and "working" in detail
    deployments.create_deployment(project, "4.2.0", commit="cafebabe")
    page = member.get("/deployments/").content.decode()
    assert "4.2.0" in page and "Watching" in page


def test_admin_pages_for_every_monitoring_model(client, project, group):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    client.force_login(admin)
    job = jobs.create_job(project, "Nightly")
    jobs.record_ping(job, PingKind.FAIL)
    deployments.create_deployment(project, "1.0")
    for model in ("errorgroup", "errorevent", "job", "jobrun", "jobping", "healingaction",
                  "deployment", "alert", "alertchannel"):  # fmt: skip
        assert client.get(f"/admin/monitoring/{model}/").status_code == 200, model
    assert client.get(f"/admin/monitoring/errorgroup/{group.pk}/change/").status_code == 200
    assert client.get(f"/admin/monitoring/job/{job.pk}/change/").status_code == 200
