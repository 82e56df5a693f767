"""The proposals UI through Django's test client: pages, form errors, access, the Auto-Fix button,
the live progress partial and review."""

import re
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone

from proposals import files, services
from proposals.models import FixAttempt, Proposal, ProposalChange, TestRun
from selfheal import services as core
from selfheal.models import Role

from .helpers import CALC, CALC_WITH_SQRT, TEST_HYPOT, load_calculator, missing_import_proposal

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The users made by the fixtures would otherwise spend most of each test hashing passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


HTMX = {"HX-Request": "true"}
POLLING = 'hx-trigger="every 1s"'


@pytest.fixture
def proposal(project, user):
    load_calculator(project)
    return missing_import_proposal(project, user)


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def set_status(proposal, status, **fields):
    """Put a proposal in a state directly (the loop itself is tested in test_autofix)."""
    Proposal.objects.filter(pk=proposal.pk).update(
        status=status, updated_at=timezone.now(), **fields
    )
    proposal.refresh_from_db()
    return proposal


def failed_run(proposal):
    return TestRun.objects.create(
        proposal=proposal,
        command="python -m pytest -q",
        exit_code=1,
        tests_passed=2,
        tests_failed=1,
        isolation="bwrap",
        duration=0.31,
        output="F.. 1 failed, 2 passed",
        results=[
            {"name": "tests/test_calc.py::test_add", "outcome": "passed", "message": "",
             "details": ""},
            {"name": "tests/test_hypot.py::test_hypot", "outcome": "failed",
             "message": "NameError: name 'math' is not defined",
             "details": "calc.py:12: NameError"},
        ],
    )  # fmt: skip


def passing_attempt(proposal, number=1):
    run = TestRun.objects.create(
        proposal=proposal, command="python -m pytest -q", passed=True, exit_code=0,
        tests_passed=3, isolation="bwrap", duration=0.3,
        results=[{"name": "tests/test_hypot.py::test_hypot", "outcome": "passed"}],
    )  # fmt: skip
    return FixAttempt.objects.create(
        proposal=proposal,
        number=number,
        strategy="rules",
        rule="missing_import",
        analysis={
            "failed_tests": ["tests/test_hypot.py::test_hypot"],
            "error_types": ["NameError"],
            "categories": ["undefined_name"],
            "root_cause": "math is used but never imported",
            "error_messages": ["NameError: name 'math' is not defined"],
        },
        diff="--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,3 @@\n+import math\n def add(a, b):\n",
        explanation="Added the missing import of math.",
        confidence=0.9,
        security_verdict="safe",
        security_reasons=["adds an import of a standard-library module"],
        skipped_strategies=[{"strategy": "llm", "reason": "ANTHROPIC_API_KEY is not set"}],
        test_run=run,
        outcome="passed",
    )


# --- list ---------------------------------------------------------------------------------------


def test_pages_need_a_login(client, proposal):
    for url in ["/proposals/", "/proposals/new/", f"/proposals/{proposal.pk}/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_list_shows_only_the_users_projects_with_status_badges(logged_in, proposal, other_user):
    secret = core.create_project(other_user, "Secret")
    services.create_proposal(secret, "Their change", [services.ChangeSpec("x.py", "create", "")])
    set_status(proposal, "tests_failed")

    page = logged_in.get("/proposals/").content.decode()

    assert "Add hypot" in page and "Their change" not in page
    assert '<span class="badge tests_failed">' in page
    assert f'href="/proposals/{proposal.pk}/"' in page


def test_the_list_filters_by_project_and_status(logged_in, user, project, proposal):
    other = core.create_project(user, "Other")
    services.create_proposal(other, "Elsewhere", [services.ChangeSpec("y.py", "create", "Y = 1\n")])
    set_status(proposal, "tests_failed")

    by_status = logged_in.get("/proposals/", {"status": "tests_failed"}).content.decode()
    assert "Add hypot" in by_status and "Elsewhere" not in by_status
    by_project = logged_in.get("/proposals/", {"project": other.pk}).content.decode()
    assert "Elsewhere" in by_project and "Add hypot" not in by_project

    # The filters' HTMX request gets the table alone, to swap in.
    partial = logged_in.get(
        "/proposals/", {"status": "proposed"}, headers={**HTMX, "HX-Target": "proposal-table"}
    ).content.decode()
    assert partial.lstrip().startswith('<div id="proposal-table">') and "<html" not in partial
    assert "Elsewhere" in partial and "Add hypot" not in partial


# --- new proposal -------------------------------------------------------------------------------


def change_fields(*changes, title="Add hypot", project=None):
    data = {
        "title": title,
        "description": "",
        "changes-TOTAL_FORMS": str(len(changes)),
        "changes-INITIAL_FORMS": "0",
        "changes-MIN_NUM_FORMS": "0",
        "changes-MAX_NUM_FORMS": "1000",
    }
    if project is not None:
        data["project"] = str(project)
    for i, change in enumerate(changes):
        for key, value in change.items():
            data[f"changes-{i}-{key}"] = value
    return data


def test_a_new_proposal_with_pasted_and_uploaded_files(logged_in, project, user):
    load_calculator(project)
    upload = SimpleUploadedFile("test_hypot.py", TEST_HYPOT.encode())
    data = change_fields(
        {"path": "calc.py", "action": "modify", "content": CALC_WITH_SQRT.replace("\n", "\r\n")},
        {"path": "tests/test_hypot.py", "action": "create", "content": "", "upload": upload},
        {"path": "", "action": "modify", "content": ""},  # a blank block is ignored
        project=project.pk,
    )

    response = logged_in.post("/proposals/new/", data)

    proposal = Proposal.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/proposals/{proposal.pk}/"
    assert proposal.source == "ui" and proposal.created_by == user
    changes = {c.path: c for c in proposal.changes.all()}
    assert changes["calc.py"].content == CALC_WITH_SQRT  # CRLF from the textarea normalised
    assert changes["tests/test_hypot.py"].content == TEST_HYPOT


BAD_CHANGES = [
    ({"path": "/etc/passwd", "action": "create", "content": "x"}, "/etc/passwd"),
    ({"path": "../outside.py", "action": "create", "content": "x"}, "outside.py"),
    ({"path": "calc.py", "action": "modify", "content": "x = 1\n" * 400}, "byte limit"),
    ({"path": "notes.txt", "action": "create", "content": "",
      "upload": SimpleUploadedFile("notes.txt", "café".encode("latin-1"))}, "not UTF-8"),
    ({"path": "missing.py", "action": "modify", "content": "x"}, "no such file"),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "message"), BAD_CHANGES)
def test_bad_changes_are_form_errors_and_nothing_is_saved(
    logged_in, project, settings, bad, message
):
    settings.MAX_FILE_BYTES = 1000
    load_calculator(project)
    good = {"path": "tests/test_hypot.py", "action": "create", "content": TEST_HYPOT}
    if "upload" in bad:
        bad["upload"].seek(0)

    response = logged_in.post("/proposals/new/", change_fields(good, bad, project=project.pk))

    assert response.status_code == 400
    errors = re.findall(r'<ul class="errorlist[^>]*>(.*?)</ul>', response.content.decode(), re.S)
    assert any(message in e for e in errors), errors
    assert not Proposal.objects.exists() and not ProposalChange.objects.exists()


def test_an_unknown_or_foreign_project_is_a_form_error(logged_in, project, other_user):
    theirs = core.create_project(other_user, "Secret")
    change = {"path": "a.py", "action": "create", "content": "A = 1\n"}
    for project_id in (theirs.pk, 999999):
        response = logged_in.post("/proposals/new/", change_fields(change, project=project_id))
        assert response.status_code == 400
        assert "Unknown project" in response.content.decode()
    assert not Proposal.objects.exists()


def test_a_viewer_cannot_propose_to_the_project(client, project, other_user):
    core.add_member(project, other_user, Role.VIEWER)
    client.force_login(other_user)
    change = {"path": "a.py", "action": "create", "content": "A = 1\n"}
    response = client.post("/proposals/new/", change_fields(change, project=project.pk))
    assert response.status_code == 400 and "Unknown project" in response.content.decode()
    assert not Proposal.objects.exists()


def test_a_proposal_needs_a_change(logged_in, project):
    response = logged_in.post("/proposals/new/", change_fields(project=project.pk))
    assert response.status_code == 400
    assert "at least one file change" in response.content.decode()


# --- detail -------------------------------------------------------------------------------------


def test_the_detail_shows_diffs_the_latest_run_and_that_the_llm_is_off(
    logged_in, proposal, settings
):
    settings.ANTHROPIC_API_KEY = ""
    failed_run(proposal)
    set_status(proposal, "tests_failed", status_reason="1 failed, 0 errors, 2 passed.")

    page = logged_in.get(f"/proposals/{proposal.pk}/").content.decode()

    assert "1 failed, 0 errors, 2 passed." in page
    # calc.py against the project's current version: only the new function is added.
    assert '<span class="add">+def hypot(a, b):</span>' in page
    assert '<span class="add">+    return math.sqrt(a * a + b * b)</span>' in page
    assert '<span class="add">+def add(a, b):</span>' not in page
    assert "tests/test_hypot.py::test_hypot" in page and "name &#x27;math&#x27; is not" in page
    assert "sandbox isolation" in page and ">bwrap<" in page
    assert "<summary" in page and "F.. 1 failed, 2 passed" in page  # output, collapsed
    assert re.search(r'id="llm-fixer">\s*<span class="badge">off', page)


def test_the_detail_says_when_the_llm_fixer_is_on(logged_in, proposal, settings):
    settings.ANTHROPIC_API_KEY = "sk-test"
    page = logged_in.get(f"/proposals/{proposal.pk}/").content.decode()
    assert re.search(r'id="llm-fixer">\s*<span class="badge ok">on', page)


def test_the_fix_history_shows_each_attempt(logged_in, proposal):
    failed_run(proposal)
    passing_attempt(proposal)
    set_status(proposal, "tests_passed")

    page = logged_in.get(f"/proposals/{proposal.pk}/").content.decode()
    history = page[page.index('id="fix-history"') :]

    assert "Attempt 1" in history and "rules" in history and "missing_import" in history
    assert '<span class="badge passed">Passed</span>' in history
    assert "math is used but never imported" in history and "undefined_name" in history
    assert "Added the missing import of math." in history and "90%" in history
    assert '<span class="badge safe">safe</span>' in history
    assert "adds an import of a standard-library module" in history
    assert "ANTHROPIC_API_KEY is not set" in history  # a skipped strategy, with why
    assert '<span class="add">+import math</span>' in history
    assert "3 passed, 0 failed" in history


@pytest.mark.parametrize(
    ("status", "shown"),
    [("proposed", False), ("tests_failed", True), ("unfixable", True), ("needs_review", True),
     ("auto_fixing", False), ("tests_passed", False), ("applied", False)],
)  # fmt: skip
def test_the_auto_fix_button_only_when_the_proposal_needs_it(logged_in, proposal, status, shown):
    set_status(proposal, status)
    page = logged_in.get(f"/proposals/{proposal.pk}/").content.decode()
    assert ('id="auto-fix-button"' in page) is shown


def test_deploy_and_review_buttons_follow_the_state(logged_in, proposal):
    page = logged_in.get(f"/proposals/{proposal.pk}/").content.decode()
    assert 'id="deploy-button"' in page and 'id="approve-button"' not in page
    set_status(proposal, "tests_passed")
    page = logged_in.get(f"/proposals/{proposal.pk}/").content.decode()
    assert 'id="approve-button"' in page and 'id="reject-button"' in page


# --- access -------------------------------------------------------------------------------------


def test_someone_elses_proposal_is_not_found(client, proposal, other_user):
    set_status(proposal, "tests_failed")
    client.force_login(other_user)
    with mock.patch("proposals.tasks.auto_fix.delay") as delay:
        with TestCase.captureOnCommitCallbacks(execute=True):
            for url in ["", "progress/"]:
                assert client.get(f"/proposals/{proposal.pk}/{url}").status_code == 404
            for url in ["auto-fix/", "deploy/", "approve/", "reject/"]:
                assert client.post(f"/proposals/{proposal.pk}/{url}").status_code == 404
    delay.assert_not_called()
    proposal.refresh_from_db()
    assert proposal.status == "tests_failed"


def test_a_viewer_sees_the_proposal_but_cannot_act(client, proposal, other_user):
    core.add_member(proposal.project, other_user, Role.VIEWER)
    set_status(proposal, "tests_failed")
    client.force_login(other_user)

    page = client.get(f"/proposals/{proposal.pk}/").content.decode()
    assert "Add hypot" in page and 'id="auto-fix-button"' not in page
    assert "needs the reviewer role" in page

    with mock.patch("proposals.tasks.auto_fix.delay") as delay:
        with TestCase.captureOnCommitCallbacks(execute=True):
            refused = client.post(f"/proposals/{proposal.pk}/auto-fix/", headers=HTMX)
            rejected = client.post(f"/proposals/{proposal.pk}/reject/", follow=True)
    delay.assert_not_called()
    assert "needs the reviewer role" in refused.content.decode()
    assert "needs the reviewer role" in rejected.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "tests_failed"


# --- auto-fix and live progress -----------------------------------------------------------------


def test_auto_fix_queues_the_task_and_answers_with_a_polling_progress_box(logged_in, proposal):
    set_status(proposal, "tests_failed")
    with mock.patch("proposals.tasks.auto_fix.delay") as delay:
        with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
            response = logged_in.post(f"/proposals/{proposal.pk}/auto-fix/", headers=HTMX)
            delay.assert_not_called()  # only once the transaction commits
        assert len(callbacks) == 1
    delay.assert_called_once_with(proposal.pk)

    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<div id="proposal-progress"') and POLLING in body
    assert "Queued" in body
    # The loop did not run in the request.
    proposal.refresh_from_db()
    assert proposal.status == "tests_failed" and not proposal.attempts.exists()
    # The buttons are swapped out while it works.
    assert 'id="proposal-actions" class="actions" hx-swap-oob="true"' in body
    assert 'id="auto-fix-button"' not in body


def test_the_progress_box_polls_while_running_and_stops_with_the_result(logged_in, proposal):
    set_status(proposal, "tests_failed")
    failed_run(proposal)
    with mock.patch("proposals.tasks.auto_fix.delay"):
        posted = logged_in.post(f"/proposals/{proposal.pk}/auto-fix/", headers=HTMX)
    poll_url = (
        re.search(r'hx-get="([^"]+)"', posted.content.decode()).group(1).replace("&amp;", "&")
    )

    # Not picked up yet: still queued, still polling.
    queued = logged_in.get(poll_url, headers=HTMX).content.decode()
    assert POLLING in queued and "Queued" in queued

    # The worker is on attempt 2.
    set_status(proposal, "auto_fixing", stage="Attempt 2/3 — running tests")
    FixAttempt.objects.create(proposal=proposal, number=1, strategy="rules", outcome="failed")
    running = logged_in.get(poll_url, headers=HTMX).content.decode()
    assert POLLING in running and "Attempt 2/3 — running tests" in running
    assert "Attempt 1" in running and '<span class="badge failed">Failed</span>' in running

    # Done: the box stops polling, shows the result, and the history is swapped in.
    passing_attempt(proposal, number=2)
    set_status(proposal, "tests_passed", stage="", status_reason="3 tests passed.")
    done = logged_in.get(poll_url, headers=HTMX).content.decode()
    assert POLLING not in done and "hx-get" not in done.split("</div>")[0]
    assert "Finished" in done and "3 tests passed." in done
    assert 'id="fix-history" class="card" hx-swap-oob="true"' in done
    assert '<span class="add">+import math</span>' in done
    assert 'data-status="tests_passed"' in done


def test_a_page_loaded_while_running_polls_and_works_on_reload(logged_in, proposal):
    set_status(proposal, "auto_fixing", stage="Attempt 1/3 — generating a fix (rules)")
    page = logged_in.get(f"/proposals/{proposal.pk}/").content.decode()
    assert POLLING in page and "Attempt 1/3 — generating a fix (rules)" in page

    # The partial's URL opened directly (no HTMX) renders the whole page.
    full = logged_in.get(f"/proposals/{proposal.pk}/progress/").content.decode()
    assert "<html" in full and 'id="fix-history"' in full and POLLING in full


def test_auto_fix_in_a_state_that_cannot_be_fixed_is_refused(logged_in, proposal):
    set_status(proposal, "tests_passed")
    with mock.patch("proposals.tasks.auto_fix.delay") as delay:
        with TestCase.captureOnCommitCallbacks(execute=True):
            partial = logged_in.post(f"/proposals/{proposal.pk}/auto-fix/", headers=HTMX)
            page = logged_in.post(f"/proposals/{proposal.pk}/auto-fix/", follow=True)
    delay.assert_not_called()
    assert partial.status_code == 200 and "auto-fix starts only from" in partial.content.decode()
    assert "auto-fix starts only from" in page.content.decode()


def test_auto_fix_without_htmx_redirects_to_a_polling_page(logged_in, proposal):
    set_status(proposal, "tests_failed")
    with mock.patch("proposals.tasks.auto_fix.delay") as delay:
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = logged_in.post(f"/proposals/{proposal.pk}/auto-fix/", follow=True)
    delay.assert_called_once_with(proposal.pk)
    page = response.content.decode()
    assert "Auto-fix queued." in page and POLLING in page


@pytest.mark.django_db(transaction=True)  # on_commit runs at once, as in a real request
def test_a_broker_that_is_down_is_a_message_not_a_500(logged_in, proposal):
    set_status(proposal, "tests_failed")
    with mock.patch("proposals.tasks.auto_fix.delay", side_effect=ConnectionError("refused")):
        response = logged_in.post(f"/proposals/{proposal.pk}/auto-fix/", headers=HTMX)
    assert response.status_code == 200
    assert "could not be queued" in response.content.decode()


def test_deploy_queues_the_sandbox_run(logged_in, proposal):
    with mock.patch("proposals.tasks.deploy_and_test.delay") as delay:
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = logged_in.post(f"/proposals/{proposal.pk}/deploy/", headers=HTMX)
    delay.assert_called_once_with(proposal.pk)
    assert POLLING in response.content.decode()


# --- review -------------------------------------------------------------------------------------


def test_approve_applies_the_proposal_to_the_project(logged_in, proposal, user):
    set_status(proposal, "tests_passed")
    response = logged_in.post(f"/proposals/{proposal.pk}/approve/", {"note": "ok"}, follow=True)
    proposal.refresh_from_db()
    assert proposal.status == "applied"
    assert proposal.reviews.get().reviewer == user
    assert files.current_files(proposal.project)["calc.py"] == CALC_WITH_SQRT
    assert f"Proposal #{proposal.pk} approved and applied." in response.content.decode()


def test_approving_in_the_wrong_state_is_a_message(logged_in, proposal):
    set_status(proposal, "tests_failed")
    response = logged_in.post(f"/proposals/{proposal.pk}/approve/", follow=True)
    assert response.status_code == 200
    assert "only a proposal whose tests passed" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "tests_failed"
    assert files.current_files(proposal.project)["calc.py"] == CALC


def test_reject(logged_in, proposal):
    set_status(proposal, "tests_failed")
    response = logged_in.post(f"/proposals/{proposal.pk}/reject/", {"note": "no"}, follow=True)
    proposal.refresh_from_db()
    assert proposal.status == "rejected" and proposal.status_reason == "no"
    page = response.content.decode()
    assert "rejected." in page and 'id="reject-button"' not in page
    again = logged_in.post(f"/proposals/{proposal.pk}/reject/", follow=True)
    assert "cannot be rejected now" in again.content.decode()
