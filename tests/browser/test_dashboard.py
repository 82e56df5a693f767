"""The dashboard in a real Chromium: "Run healing scan now" starts a scan on a real Celery worker,
its progress shows, and the healed proposal's attempt appears in the recent actions, all without a
reload."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from dashboard.models import HealingScan
from proposals import services
from proposals.models import Proposal
from selfheal import services as core
from tests.proposals.helpers import load_calculator, missing_import_proposal

PASSWORD = "pw-carol-12345"


@pytest.mark.browser
@pytest.mark.worker
def test_run_healing_scan_now_heals_a_failing_proposal_live(
    page, live_server, celery_worker_process
):
    user = get_user_model().objects.create_user("carol", "carol@example.com", PASSWORD)
    project = core.create_project(user, "Calculator")
    load_calculator(project)
    proposal = missing_import_proposal(project, user)  # uses math.sqrt without importing math
    services.deploy_and_test(proposal.pk)
    assert Proposal.objects.get(pk=proposal.pk).status == "tests_failed"

    page.goto(f"{live_server.url}/self-healing?project={project.slug}")
    page.fill("#id_username", "carol")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/self-healing?project={project.slug}")
    expect(page.locator("h1")).to_have_text("Self-healing")
    actions = page.locator("#recent-actions")
    expect(actions).to_contain_text("No healing actions yet")
    expect(page.locator("#charts svg")).to_have_count(2)

    page.evaluate("window.notReloaded = true")  # a full page load would drop it
    page.click("#scan-button")

    scan_box = page.locator("#healing-scan")
    expect(scan_box.locator("progress")).to_be_visible()
    expect(scan_box).to_contain_text("Scan #")
    expect(page.locator("#scan-button")).to_be_disabled()
    expect(scan_box).to_contain_text(
        f"Auto-fixing proposal #{proposal.pk} (1 of 1)", timeout=60_000
    )
    expect(scan_box).to_have_attribute("data-status", "running")
    expect(scan_box).to_have_attribute("data-status", "succeeded", timeout=120_000)
    assert page.evaluate("window.notReloaded") is True, celery_worker_process.read_text()[-3000:]
    expect(scan_box).to_contain_text("100%")
    expect(scan_box).to_contain_text("1 healed")
    expect(page.locator("#scan-button")).to_be_enabled()

    expect(actions).to_contain_text("Fix attempt 1 · rules", timeout=10_000)
    row = actions.locator("tr.action.fix").first
    expect(row).to_contain_text("Add hypot")
    expect(row.locator(".badge")).to_have_text("passed")
    expect(page.locator("#stat-heals .value")).to_have_text("1", timeout=15_000)
    # The fix taught a pattern, and the patterns list shows it.
    expect(page.locator("#patterns")).not_to_contain_text("No patterns learned yet")
    assert page.evaluate("window.notReloaded") is True
    assert page.url == f"{live_server.url}/self-healing?project={project.slug}"

    scan = HealingScan.objects.get()
    assert scan.status == "succeeded" and scan.counts["healed"] == 1
    assert Proposal.objects.get(pk=proposal.pk).status == "tests_passed"
