import pytest

from patterns import services
from patterns.models import PatternStatus
from selfheal import services as core
from tests.factories import ProjectFactory

from .helpers import (
    CLOCK,
    CLOCK_FAILURE,
    CLOCK_FIXED,
    PATHS,
    PATHS_FAILURE,
    PATHS_FIXED,
    failing_context,
    fix,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def learned(project):
    """A pattern learned in the user's project and in a project the user may not see."""
    secret = ProjectFactory(name="Secret Project")
    context = failing_context(PATHS, *PATHS_FAILURE)
    services.learn_from_fix(project, context, fix(context, "paths.py", PATHS_FIXED), "rules")
    context = failing_context(CLOCK, *CLOCK_FAILURE)
    pattern = services.learn_from_fix(
        secret, context, fix(context, "clock.py", CLOCK_FIXED, "llm"), "llm"
    )
    services.record_outcome(
        pattern.pk, False, project=secret, source="auto_fix", detail="secret code failed"
    )
    context = failing_context(
        {"m.py": "def f(x):\n    return x > 1\n"}, "AssertionError", "assert False", ("m.py", 2)
    )
    other = services.learn_from_fix(
        project,
        context,
        fix(context, "m.py", "def f(x):\n    return x >= 1\n", "mutation"),
        "mutation",
    )
    return pattern, other, secret


def test_list_patterns_with_filters(api_client, learned):
    pattern, other, _ = learned
    response = api_client.get("/api/v1/patterns")
    assert response.status_code == 200
    rows = response.json()
    assert [r["id"] for r in rows] == [other.pk, pattern.pk]  # most confident first
    assert rows[0]["confidence"] == pytest.approx(2 / 3)  # 1 success
    assert rows[1]["confidence"] == pytest.approx(3 / 5)  # 2 successes, 1 failure
    assert rows[1]["status"] == "active" and rows[1]["templates"] == 1
    assert [r["id"] for r in api_client.get("/api/v1/patterns?category=assertion").json()] == [
        other.pk
    ]
    assert [r["id"] for r in api_client.get("/api/v1/patterns?status=candidate").json()] == [
        other.pk
    ]
    assert api_client.get("/api/v1/patterns?status=sleeping").status_code in (400, 422)
    assert api_client.get("/api/v1/patterns?limit=0").status_code == 400
    assert len(api_client.get("/api/v1/patterns?limit=1&offset=1").json()) == 1


def test_pattern_detail_names_only_the_projects_the_reader_may_see(api_client, learned, project):
    pattern, _, secret = learned
    detail = api_client.get(f"/api/v1/patterns/{pattern.pk}").json()
    assert detail["projects_affected"] == [project.name]
    assert detail["other_projects_affected"] == 1
    assert detail["template_list"][0]["spec"]["kind"] == "insert_import"
    assert [o["success"] for o in detail["outcomes"]] == [False, True, True]
    assert detail["outcomes"][0]["project"] is None and detail["outcomes"][0]["detail"] == ""
    assert detail["outcomes"][2]["project"] == project.name
    assert "Secret Project" not in str(detail)
    assert api_client.get("/api/v1/patterns/999999").status_code == 404


def test_stats_overall_and_per_project(api_client, learned, project):
    pattern, other, _ = learned
    stats = api_client.get("/api/v1/stats").json()
    assert stats["patterns_learned"] == 2 and stats["active_patterns"] == 1
    assert stats["successful_heals"] == 3 and stats["failed_heals"] == 1
    assert stats["success_rate"] == pytest.approx(0.75)
    assert stats["average_confidence"] == pytest.approx((3 / 5 + 2 / 3) / 2)
    by_category = {c["category"]: c for c in stats["per_category"]}
    assert (
        by_category["undefined_name"]["successes"] == 2 and by_category["assertion"]["active"] == 0
    )

    mine = api_client.get(f"/api/v1/stats?project={project.slug}").json()
    assert mine["project"] == project.slug
    assert (mine["successful_heals"], mine["failed_heals"]) == (2, 0)
    assert api_client.get("/api/v1/stats?project=secret-project").status_code == 404


def test_quarantined_patterns_do_not_count_as_learned(api_client, learned):
    _, other, _ = learned
    services.set_status(other.pk, PatternStatus.QUARANTINED, "bad")
    assert api_client.get("/api/v1/stats").json()["patterns_learned"] == 1


def test_the_api_needs_a_login(client, learned):
    assert client.get("/api/v1/patterns").status_code == 401
    assert client.get("/api/v1/stats").status_code == 401


def test_a_viewer_of_another_project_sees_no_names(client, learned, other_user):
    pattern, _, _ = learned
    _, raw = core.create_api_key(other_user, "k")
    detail = client.get(f"/api/v1/patterns/{pattern.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert detail["projects_affected"] == [] and detail["other_projects_affected"] == 2
    assert all(o["project"] is None for o in detail["outcomes"])
