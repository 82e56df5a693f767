"""The Django admin: API keys shown once and never their hash, projects and files, proposals with
their history, and the review queue with approve / reject."""

import hashlib
import re

import pytest
from django.contrib.auth.models import Permission

from proposals import files
from proposals.models import ProjectFile
from selfheal import services as core
from selfheal.models import ApiKey, Role

from .helpers import CALC, CALC_WITH_SQRT, load_calculator, missing_import_proposal
from .test_views import failed_run, passing_attempt, set_status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The users made by the fixtures would otherwise spend most of each test hashing passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


QUEUE = "/admin/proposals/proposal/review-queue/"


def test_an_api_key_made_in_the_admin_is_shown_once_and_stored_hashed(admin_client, user):
    form = admin_client.get("/admin/selfheal/apikey/add/").content.decode()
    assert "key_hash" not in form

    response = admin_client.post(
        "/admin/selfheal/apikey/add/",
        {"user": user.pk, "name": "ci", "key_hash": "0" * 64, "prefix": "chosen"},
        follow=True,
    )

    page = response.content.decode()
    raw = re.search(r"shk_[0-9a-f]{8}_[\w-]+", page).group(0)
    assert "will not be shown again" in page
    api_key = ApiKey.objects.get()
    assert api_key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert api_key.prefix != "chosen" and api_key.name == "ci"
    assert core.authenticate_api_key(raw) == user

    for url in [f"/admin/selfheal/apikey/{api_key.pk}/change/", "/admin/selfheal/apikey/"]:
        shown = admin_client.get(url).content.decode()
        assert raw not in shown and api_key.key_hash not in shown and "key_hash" not in shown


def test_editing_a_key_in_the_admin_cannot_set_its_hash(admin_client, user):
    api_key, raw = core.create_api_key(user, "ci")
    admin_client.post(
        f"/admin/selfheal/apikey/{api_key.pk}/change/",
        {"name": "renamed", "key_hash": hashlib.sha256(b"mine").hexdigest()},
    )
    api_key.refresh_from_db()
    assert api_key.name == "renamed"
    assert core.authenticate_api_key(raw) == user


def test_revoking_keys_from_the_admin(admin_client, user):
    api_key, raw = core.create_api_key(user, "ci")
    admin_client.post(
        "/admin/selfheal/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]}
    )
    assert core.authenticate_api_key(raw) is None


def test_projects_and_their_files_with_versions(admin_client, project, user):
    load_calculator(project)
    files.write_files(project, {"calc.py": CALC_WITH_SQRT}, source="edit")
    listing = admin_client.get("/admin/selfheal/project/").content.decode()
    assert project.name in listing
    page = admin_client.get(f"/admin/selfheal/project/{project.pk}/change/").content.decode()
    assert user.username in page  # the membership inline

    calc = ProjectFile.objects.get(path="calc.py")
    page = admin_client.get(f"/admin/proposals/projectfile/{calc.pk}/change/").content.decode()
    assert "return math.sqrt" in page
    assert page.count("def add(a, b):") >= 3  # the current content and both versions
    assert 'name="_save"' not in page  # read-only: files change through proposals


def test_a_proposal_with_its_changes_runs_and_attempts(admin_client, project, user):
    load_calculator(project)
    proposal = missing_import_proposal(project, user)
    failed_run(proposal)
    passing_attempt(proposal)
    page = admin_client.get(f"/admin/proposals/proposal/{proposal.pk}/change/").content.decode()
    assert "+def hypot(a, b):" in page  # the change against the project's file
    assert '<span style="color:#1a7f37">+import math</span>' in page  # the fix, coloured
    assert "math is used but never imported" in page
    assert "tests/test_hypot.py::test_hypot" in page  # the failed run


@pytest.fixture
def waiting(project, user):
    load_calculator(project)
    passed = set_status(missing_import_proposal(project, user), "tests_passed")
    passing_attempt(passed)
    flagged = core.create_project(user, "Other")
    load_calculator(flagged)
    review = set_status(missing_import_proposal(flagged, user), "needs_review")
    failing = core.create_project(user, "Third")
    load_calculator(failing)
    not_waiting = set_status(missing_import_proposal(failing, user), "tests_failed")
    return passed, review, not_waiting


def test_the_review_queue_lists_what_waits_for_a_person(admin_client, waiting):
    passed, review, not_waiting = waiting
    page = admin_client.get(QUEUE).content.decode()
    assert f'value="{passed.pk}"' in page and f'value="{review.pk}"' in page
    assert f'value="{not_waiting.pk}"' not in page
    assert "90%" in page and "safe" in page and "adds an import of a standard-library" in page
    assert "+import math" in page
    listing = admin_client.get("/admin/proposals/proposal/").content.decode()
    assert "Review queue (2)" in listing


def test_approving_and_rejecting_from_the_queue(admin_client, waiting):
    passed, review, _ = waiting
    response = admin_client.post(
        QUEUE, {"proposal": [passed.pk], "decision": "approve", "note": "lgtm"}, follow=True
    )
    assert "1 proposal(s) approved and applied" in response.content.decode()
    passed.refresh_from_db()
    assert passed.status == "applied"
    assert files.current_files(passed.project)["calc.py"] == CALC_WITH_SQRT

    admin_client.post(QUEUE, {"proposal": [review.pk], "decision": "reject"})
    review.refresh_from_db()
    assert review.status == "rejected"
    assert files.current_files(review.project)["calc.py"] == CALC


def test_refused_decisions_are_messages(client, waiting, other_user):
    passed, review, _ = waiting
    core.add_member(passed.project, other_user, Role.VIEWER)
    other_user.is_staff = True
    other_user.save()
    other_user.user_permissions.add(Permission.objects.get(codename="view_proposal"))
    client.force_login(other_user)

    page = client.get(QUEUE).content.decode()
    assert f'value="{passed.pk}"' in page and f'value="{review.pk}"' not in page  # not theirs
    response = client.post(QUEUE, {"proposal": [passed.pk], "decision": "approve"}, follow=True)
    assert response.status_code == 200
    assert "needs the reviewer role" in response.content.decode()
    passed.refresh_from_db()
    assert passed.status == "tests_passed"


def test_bulk_actions_apply_what_they_can_and_report_the_rest(admin_client, waiting):
    passed, _, not_waiting = waiting
    response = admin_client.post(
        "/admin/proposals/proposal/",
        {"action": "approve_selected", "_selected_action": [passed.pk, not_waiting.pk]},
        follow=True,
    )
    page = response.content.decode()
    passed.refresh_from_db()
    not_waiting.refresh_from_db()
    assert passed.status == "applied" and not_waiting.status == "tests_failed"
    assert f"#{not_waiting.pk}: Proposal #{not_waiting.pk} is tests_failed" in page
