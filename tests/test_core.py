import pytest
from django_celery_beat.models import PeriodicTask

from selfheal import services
from selfheal.beat import BEAT_SCHEDULE
from selfheal.models import Project

pytestmark = pytest.mark.django_db


def test_every_healing_cycle_is_a_beat_entry_after_migrate():
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert {entry.name for entry in BEAT_SCHEDULE} <= names
    scan = PeriodicTask.objects.get(name="Error scan & auto-fix")
    assert scan.task == "monitoring.tasks.scan_errors" and scan.enabled


def test_every_beat_task_is_a_registered_celery_task():
    from selfheal.celery import app

    app.loader.import_default_modules()
    missing = [entry.task for entry in BEAT_SCHEDULE if entry.task not in app.tasks]
    assert missing == []


def test_an_operator_change_to_a_beat_entry_survives_the_next_migrate():
    from selfheal.beat import ensure_beat_entries

    PeriodicTask.objects.filter(name="Pattern decay").update(enabled=False)
    ensure_beat_entries()
    assert PeriodicTask.objects.get(name="Pattern decay").enabled is False


def test_health_reports_the_database_and_the_sandbox_isolation(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["sandbox_isolation"] in ("bwrap", "bwrap-noproc", "landlock")


def test_the_creator_of_a_project_is_its_admin_and_slugs_are_unique(user):
    first = services.create_project(user, "Web shop")
    second = services.create_project(user, "Web shop")
    assert (first.slug, second.slug) == ("web-shop", "web-shop-2")
    assert services.role_of(user, first) == "admin"


def test_api_creates_projects_and_refuses_bad_settings(api_client):
    response = api_client.post(
        "/api/v1/projects", {"name": "Api", "max_fix_attempts": 0}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "max_fix_attempts" in response.json()["detail"]
    assert not Project.objects.filter(name="Api").exists()
    response = api_client.post("/api/v1/projects", {"name": "Api"}, content_type="application/json")
    assert response.status_code == 201 and response.json()["test_command"] == "python -m pytest -q"


def test_the_openapi_schema_is_served(client):
    assert client.get("/api/docs").status_code == 302
    assert client.get("/api/v1/openapi.json").status_code == 200
