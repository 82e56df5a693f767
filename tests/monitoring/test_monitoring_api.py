"""/api/v1 errors, JUnit upload, statuses, repair, jobs and alerts; and who may see what."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from monitoring import grouping
from monitoring.models import ErrorEvent, ErrorGroup
from selfheal import services

pytestmark = pytest.mark.django_db

TRACEBACK = """Traceback (most recent call last):
  File "/srv/app/billing/invoice.py", line 41, in render
    total = compute(order)
  File "/srv/app/billing/invoice.py", line 12, in compute
    return order.amount / order.quantity
ZeroDivisionError: division by zero
"""

JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3" failures="1" errors="1">
  <testcase classname="tests.test_cart" name="test_total" file="tests/test_cart.py" line="9">
    <failure message="assert 3 == 4">def test_total():
&gt;       assert total([1, 2]) == 4
E       assert 3 == 4

tests/test_cart.py:11: AssertionError</failure>
  </testcase>
  <testcase classname="tests.test_cart" name="test_empty" file="tests/test_cart.py" line="14">
    <error message="ZeroDivisionError: division by zero">tests/test_cart.py:16: in test_empty
    total([])
cart.py:3: in total
    return sum(items) / len(items)
E   ZeroDivisionError: division by zero</error>
  </testcase>
  <testcase classname="tests.test_cart" name="test_ok" file="tests/test_cart.py" line="20"/>
</testsuite></testsuites>
"""


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_report_errors_and_list_groups(api_client, project):
    first = post(api_client, "/api/v1/errors", {"project": project.slug, "stacktrace": TRACEBACK, "release": "7.1"})  # fmt: skip
    assert first.status_code == 202, first.content
    event_id = first.json()["id"]
    second = post(api_client, "/api/v1/errors", {"project": project.pk, "stacktrace": TRACEBACK.replace("line 12", "line 15")})  # fmt: skip
    assert second.status_code == 202
    frames = [{"filename": "jobs/sync.py", "module": "jobs.sync", "function": "pull", "lineno": 7}]
    third = post(api_client, "/api/v1/errors", {"project": project.slug, "type": "KeyError", "message": "'sku'", "frames": frames})  # fmt: skip
    assert third.status_code == 202
    assert ErrorEvent.objects.filter(project=project).count() == 3
    assert ErrorEvent.objects.get(event_id=event_id).release == "7.1"

    grouping.group_pending_events()
    groups = api_client.get(f"/api/v1/errors?project={project.slug}").json()
    assert sorted((g["exc_type"], g["count"]) for g in groups) == [("KeyError", 1), ("ZeroDivisionError", 2)]  # fmt: skip
    zero = next(g for g in groups if g["exc_type"] == "ZeroDivisionError")
    assert zero["category"] != "unknown" and zero["releases"] == ["7.1"]
    filtered = api_client.get(
        f"/api/v1/errors?category={zero['category']}&status=unresolved"
    ).json()
    assert [g["id"] for g in filtered] == [zero["id"]]
    detail = api_client.get(f"/api/v1/errors/{zero['id']}").json()
    assert detail["frames"][-1]["function"] == "compute"


def test_an_event_id_is_idempotent_over_the_api(api_client, project):
    body = {"project": project.slug, "type": "E", "message": "m", "event_id": "a" * 32}
    assert post(api_client, "/api/v1/errors", body).status_code == 202
    assert post(api_client, "/api/v1/errors", body).status_code == 202
    assert ErrorEvent.objects.count() == 1


def test_bad_error_reports(api_client, project):
    empty = post(api_client, "/api/v1/errors", {"project": project.slug})
    assert empty.status_code == 400 and "needs a type" in empty.json()["detail"]
    bad_id = post(
        api_client, "/api/v1/errors", {"project": project.slug, "type": "E", "event_id": "xyz"}
    )
    assert bad_id.status_code == 400 and "event_id" in bad_id.json()["detail"]
    assert post(api_client, "/api/v1/errors", {"project": "nope", "type": "E"}).status_code == 404
    nan = api_client.post("/api/v1/errors", f'{{"project": "{project.slug}", "type": "E", "extra": {{"x": NaN}}}}', content_type="application/json")  # fmt: skip
    assert nan.status_code in (400, 422)
    nul = post(
        api_client,
        "/api/v1/errors",
        {"project": project.slug, "type": "E", "message": "a\u0000b"},
    )
    assert nul.status_code == 202
    assert ErrorEvent.objects.get().payload["exception"]["values"][0]["value"].startswith("ab")
    ErrorEvent.objects.all().delete()
    assert api_client.post("/api/v1/errors", "{oops", content_type="application/json").status_code in (400, 422)  # fmt: skip
    assert not ErrorEvent.objects.exists()


def test_rate_limit_on_the_api(api_client, project, settings):
    settings.MONITORING_RATE_LIMIT_PER_MINUTE = 2
    statuses = [post(api_client, "/api/v1/errors", {"project": project.slug, "type": "E"}).status_code for _ in range(3)]  # fmt: skip
    assert statuses == [202, 202, 429]


def test_junit_upload_records_each_failing_test_once(api_client, project):
    def upload(content):
        return api_client.post(
            "/api/v1/errors/junit",
            {
                "project": project.slug,
                "release": "ci-88",
                "file": SimpleUploadedFile("report.xml", content),
            },
        )

    response = upload(JUNIT)
    assert response.status_code == 202, response.content
    assert response.json()["count"] == 2
    assert upload(JUNIT).json()["ids"] == response.json()["ids"]  # the same report again
    assert ErrorEvent.objects.count() == 2
    grouping.group_pending_events()
    types = sorted(ErrorGroup.objects.values_list("exc_type", flat=True))
    assert types == ["AssertionError", "ZeroDivisionError"]
    tests = sorted(e.payload["tags"]["test"] for e in ErrorEvent.objects.all())
    assert tests == ["tests/test_cart.py::test_empty", "tests/test_cart.py::test_total"]

    for junk in (b"not xml", b"<html></html>", b'<!DOCTYPE x [<!ENTITY a "b">]><testsuite/>'):
        refused = upload(junk)
        assert refused.status_code == 400 and "JUnit" in refused.json()["detail"]


def test_status_changes_follow_the_state_machine(api_client, project):
    post(api_client, "/api/v1/errors", {"project": project.slug, "type": "E", "message": "x"})
    grouping.group_pending_events()
    group = ErrorGroup.objects.get()
    url = f"/api/v1/errors/{group.pk}/status"
    assert post(api_client, url, {"status": "resolved"}).json()["status"] == "resolved"
    illegal = post(api_client, url, {"status": "ignored"})
    assert illegal.status_code == 409 and "resolved to ignored" in illegal.json()["detail"]
    assert post(api_client, url, {"status": "unresolved"}).status_code == 200
    assert post(api_client, url, {"status": "sideways"}).status_code == 422


def test_open_repair_proposal_sends_the_task_and_marks_healing(api_client, project, broker):
    post(api_client, "/api/v1/errors", {"project": project.slug, "stacktrace": TRACEBACK})
    grouping.group_pending_events()
    group = ErrorGroup.objects.get()
    try:
        response = api_client.post(f"/api/v1/errors/{group.pk}/repair")
        assert response.status_code == 202 and response.json()["status"] == "healing"
        sent = broker.sent("sandbox", "proposals.tasks.open_repair_proposal")
        assert [m["args"] for m in sent].count([group.pk]) == 1
        assert api_client.post(f"/api/v1/errors/{group.pk}/repair").status_code == 409
    finally:
        broker.forget("sandbox", "proposals.tasks.open_repair_proposal")


def test_users_only_see_their_projects(api_client, project, other_user, client):
    theirs = services.create_project(other_user, "Theirs")
    _, their_key = services.create_api_key(other_user, "k")
    post(api_client, "/api/v1/errors", {"project": project.slug, "type": "E"})
    grouping.group_pending_events()
    group = ErrorGroup.objects.get()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {their_key}"
    assert client.get("/api/v1/errors").json() == []
    assert client.get(f"/api/v1/errors/{group.pk}").status_code == 404
    assert client.get(f"/api/v1/errors?project={project.slug}").status_code == 404
    assert post(client, "/api/v1/errors", {"project": project.slug, "type": "E"}).status_code == 404
    assert (
        post(client, f"/api/v1/errors/{group.pk}/status", {"status": "ignored"}).status_code == 404
    )
    assert theirs.pk != project.pk


def test_viewers_cannot_report_or_change(client, project, other_user):
    services.add_member(project, other_user, "viewer")
    _, key = services.create_api_key(other_user, "k")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    refused = post(client, "/api/v1/errors", {"project": project.slug, "type": "E"})
    assert refused.status_code == 403 and "reviewer" in refused.json()["detail"]
    assert client.get(f"/api/v1/errors?project={project.slug}").status_code == 200


def test_no_credentials_is_401(client):
    assert client.get("/api/v1/errors").status_code == 401
    assert (
        client.post("/api/v1/deployments", {}, content_type="application/json").status_code == 401
    )


def test_jobs_api(api_client, project):
    created = post(api_client, "/api/v1/jobs", {
        "project": project.slug, "name": "Nightly export", "stuck_after_seconds": 600,
        "retry_webhook_url": "https://ci.example.com/retry",
    })  # fmt: skip
    assert created.status_code == 201, created.content
    job = created.json()
    assert job["slug"] == "nightly-export" and job["stuck_after_seconds"] == 600
    assert "/ping/" in job["ping_url"]
    assert api_client.get(job["ping_url"].split("127.0.0.1:8000")[-1] + "/start").status_code == 200
    detail = api_client.get(f"/api/v1/jobs/{job['id']}").json()
    assert [r["status"] for r in detail["runs"]] == ["running"]
    duplicate = post(api_client, "/api/v1/jobs", {"project": project.slug, "name": "x", "slug": "nightly-export"})  # fmt: skip
    assert duplicate.status_code == 409
    bad_url = post(api_client, "/api/v1/jobs", {"project": project.slug, "name": "y", "retry_webhook_url": "ftp:/x"})  # fmt: skip
    assert bad_url.status_code == 400


def test_alerts_api(api_client, project):
    from monitoring import alerts

    alerts.raise_alert("test", alerts.AlertCondition(project.pk, "t:1", "warning", "Heads up"))
    assert [a["title"] for a in api_client.get("/api/v1/alerts?status=open").json()] == ["Heads up"]
    channel = post(api_client, "/api/v1/alerts/channels", {"project": project.slug, "kind": "webhook", "target": "https://hooks.example.com/x"})  # fmt: skip
    assert channel.status_code == 201
    bad = post(api_client, "/api/v1/alerts/channels", {"project": project.slug, "kind": "webhook", "target": "mailto:x"})  # fmt: skip
    assert bad.status_code == 400
