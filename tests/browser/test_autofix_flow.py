"""The whole loop from a browser: a real Chromium clicks Auto-Fix & Retry on a failing proposal, a
real Celery worker heals it in the sandbox, and the page shows progress and history without a reload."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from proposals import services
from proposals.models import Proposal
from selfheal import services as core
from tests.proposals.helpers import load_calculator, missing_import_proposal

PASSWORD = "pw-bob-12345"


@pytest.mark.browser
@pytest.mark.worker
def test_auto_fix_from_the_proposal_page(page, live_server, celery_worker_process):
    user = get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    project = core.create_project(user, "Calculator")
    load_calculator(project)
    proposal = missing_import_proposal(project, user)  # uses math.sqrt without importing math
    services.deploy_and_test(proposal.pk)
    proposal.refresh_from_db()
    assert proposal.status == "tests_failed", proposal.status_reason

    page.goto(f"{live_server.url}/proposals/{proposal.pk}/")
    page.fill("#id_username", "bob")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/proposals/{proposal.pk}/")
    status = page.locator("#proposal-status")
    expect(status).to_have_attribute("data-status", "tests_failed")
    expect(page.locator("#latest-run")).to_contain_text("tests/test_hypot.py::test_hypot")

    page.evaluate("window.notReloaded = true")  # a full page load would drop it
    page.click("#auto-fix-button")

    progress = page.locator("#proposal-progress")
    expect(progress).to_be_visible()
    expect(progress).to_contain_text("Attempt 1", timeout=60_000)
    expect(status).to_have_attribute("data-status", "tests_passed", timeout=120_000)
    assert page.evaluate("window.notReloaded") is True, celery_worker_process.read_text()[-3000:]
    assert page.url == f"{live_server.url}/proposals/{proposal.pk}/"
    expect(progress).to_contain_text("Finished")
    expect(progress).not_to_have_attribute("hx-trigger", "every 1s")

    history = page.locator("#fix-history")
    expect(history).to_contain_text("Attempt 1")
    expect(history.locator("pre.diff .add", has_text="+import math")).to_be_visible()
    expect(history.locator(".attempt.passed")).to_have_count(1)
    expect(page.locator("#auto-fix-button")).to_have_count(0)
    expect(page.locator("#approve-button")).to_be_visible()
    assert Proposal.objects.get(pk=proposal.pk).status == "tests_passed"
