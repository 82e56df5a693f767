import io
import json
import zipfile

import pytest

from proposals.models import Proposal
from selfheal import services as core

from .helpers import CALC, CALC_WITH_SQRT, TEST_HYPOT, TESTS

pytestmark = pytest.mark.django_db


def post(client, url, payload):
    return client.post(url, json.dumps(payload), content_type="application/json")


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    buffer.seek(0)
    buffer.name = "calc.zip"
    return buffer


def test_every_call_needs_authentication(client, project):
    assert client.get("/api/v1/projects").status_code == 401
    bad = client.get("/api/v1/projects", HTTP_AUTHORIZATION="Bearer shk_nope_nope")
    assert bad.status_code == 401


def test_api_keys_are_stored_hashed_and_revocable(user):
    api_key, raw = core.create_api_key(user, "ci")
    assert raw not in (api_key.key_hash, api_key.prefix) and len(api_key.key_hash) == 64
    assert core.authenticate_api_key(raw) == user
    core.revoke_api_key(api_key)
    assert core.authenticate_api_key(raw) is None


def test_a_user_sees_only_their_projects(api_client, project, other_user):
    theirs = core.create_project(other_user, "Secret")
    listed = [p["slug"] for p in api_client.get("/api/v1/projects").json()]
    assert listed == [project.slug]
    assert api_client.get(f"/api/v1/projects/{theirs.slug}/proposals").status_code == 404
    assert api_client.get("/api/v1/projects/no-such-project").status_code == 404


def test_the_proposal_flow_deploy_fail_auto_fix_pass(api_client, project):
    upload = _zip({"calc.py": CALC, "tests/test_calc.py": TESTS})
    imported = api_client.post(f"/api/v1/projects/{project.slug}/files/import", {"archive": upload})
    assert imported.status_code == 201, imported.content
    assert imported.json()["created"] == 2

    created = post(api_client, f"/api/v1/projects/{project.slug}/proposals", {
        "title": "Add hypot",
        "changes": [{"path": "calc.py", "action": "modify", "content": CALC_WITH_SQRT},
                    {"path": "tests/test_hypot.py", "action": "create", "content": TEST_HYPOT}],
    })  # fmt: skip
    assert created.status_code == 201, created.content
    proposal_id = created.json()["id"]

    deployed = api_client.post(f"/api/v1/proposals/{proposal_id}/deploy")
    assert deployed.status_code == 200
    assert deployed.json()["passed"] is False
    assert deployed.json()["failed_tests"] == ["tests/test_hypot.py::test_hypot"]
    assert deployed.json()["isolation"].startswith(("bwrap", "landlock"))

    status = api_client.get(f"/api/v1/admin/proposals/auto-fix/status/{proposal_id}").json()
    assert status["needs_auto_fix"] is True and status["status"] == "tests_failed"

    fixed = api_client.post(f"/api/v1/admin/proposals/auto-fix/{proposal_id}")
    assert fixed.status_code == 200, fixed.content
    body = fixed.json()
    assert body["success"] is True and body["fix_applied"] is True
    assert body["status"] == "tests_passed"
    assert body["fix_history"][-1]["outcome"] == "passed"
    assert "+import math" in body["fix_history"][-1]["diff"]
    assert body["next_step"]

    status = api_client.get(f"/api/v1/admin/proposals/auto-fix/status/{proposal_id}").json()
    assert status == {**status, "needs_auto_fix": False, "auto_fix_applied": True,
                      "auto_fix_attempts": 1, "status": "tests_passed"}  # fmt: skip

    approved = post(api_client, f"/api/v1/proposals/{proposal_id}/approve", {"note": "ok"})
    assert approved.status_code == 200 and approved.json()["status"] == "applied"


def test_auto_fix_of_a_proposal_in_the_wrong_state_is_a_409(api_client, project):
    proposal = Proposal.objects.create(project=project, title="x")
    response = api_client.post(f"/api/v1/admin/proposals/auto-fix/{proposal.pk}")
    assert response.status_code == 409
    assert "proposed" in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"path": "/etc/passwd", "action": "create", "content": "x"}, "passwd"),
        ({"path": "a/../../b.py", "action": "create", "content": "x"}, "b.py"),
        ({"path": "big.py", "action": "create", "content": "x" * 600_000}, "limit"),
    ],
)
def test_a_bad_proposal_is_a_400_and_nothing_is_saved(api_client, project, change, message):
    response = post(api_client, f"/api/v1/projects/{project.slug}/proposals",
                    {"title": "Bad", "changes": [change]})  # fmt: skip
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Proposal.objects.exists()


def test_a_non_utf8_archive_is_a_400(api_client, project):
    upload = _zip({"calc.py": "café".encode("latin-1")})
    response = api_client.post(f"/api/v1/projects/{project.slug}/files/import", {"archive": upload})
    assert response.status_code == 400 and "UTF-8" in response.json()["detail"]


def test_a_viewer_may_read_but_not_propose(client, project, other_user):
    core.add_member(project, other_user, "viewer")
    _, raw = core.create_api_key(other_user, "viewer key")
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    assert client.get(f"/api/v1/projects/{project.slug}/proposals").status_code == 200
    response = post(
        client, f"/api/v1/projects/{project.slug}/proposals", {"title": "x", "changes": []}
    )
    assert response.status_code == 403
