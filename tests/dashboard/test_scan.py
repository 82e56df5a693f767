"""The healing scan run in-process against the real sandbox: what it groups, tests and heals, what
it leaves alone, and how it fails."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import services
from dashboard.models import HealingScan
from monitoring import errors
from monitoring.models import ErrorGroup
from proposals import services as proposal_services
from proposals.models import Proposal
from selfheal import services as core
from selfheal.models import Role, StoppingPoint
from selfheal.services import AccessDenied
from tests.proposals.helpers import CALC, load_calculator, missing_import_proposal

pytestmark = pytest.mark.django_db


def queue_scan(user, **kwargs) -> HealingScan:
    """A queued scan, its task not sent (the test runs it in-process)."""
    scan, created = services.request_scan(user, **kwargs)
    assert created
    return scan


def test_a_scan_groups_errors_tests_proposals_and_heals_the_failing_one(user, project, broker):
    load_calculator(project)
    broken = missing_import_proposal(project, user)  # fails its tests until `import math`
    fine = proposal_services.create_proposal(
        project, "Comment", [proposal_services.ChangeSpec("calc.py", "modify", "# calc\n" + CALC)]
    )
    errors.submit_error(project, errors.ErrorSubmission(type="KeyError", message="'sku'"))
    scan = queue_scan(user, project=project)

    services.run_scan(scan.pk)

    scan.refresh_from_db()
    assert scan.status == "succeeded" and scan.progress == 1.0 and scan.finished_at
    assert {k: v for k, v in scan.counts.items() if v} == {
        "events_grouped": 1, "repairs_requested": 1, "deployed": 2, "tests_passed": 1,
        "tests_failed": 1, "auto_fix_runs": 1, "healed": 1,
    }  # fmt: skip
    assert Proposal.objects.get(pk=fine.pk).status == "tests_passed"
    healed = Proposal.objects.get(pk=broken.pk)
    assert healed.status == "tests_passed", healed.status_reason
    assert healed.attempts.get(outcome="passed").strategy == "rules"
    group = ErrorGroup.objects.get(project=project)
    assert group.status == "healing"
    assert broker("sandbox", "proposals.tasks.open_repair_proposal") == [[group.pk]]


def test_a_scan_touches_only_projects_the_requester_reviews_and_never_fixes_analyse_only(
    user, other_user
):
    reviewed = core.create_project(user, "Mine", stopping_point=StoppingPoint.ANALYSE_ONLY)
    watched = core.create_project(other_user, "Watched")
    core.add_member(watched, user, Role.VIEWER)
    analyse_only = Proposal.objects.create(project=reviewed, title="failing", status="tests_failed")
    not_mine = Proposal.objects.create(project=watched, title="failing too", status="tests_failed")

    scan = queue_scan(user)
    assert scan.project_ids == [reviewed.pk]
    services.run_scan(scan.pk)

    scan.refresh_from_db()
    assert scan.status == "succeeded" and scan.counts["auto_fix_runs"] == 0
    assert Proposal.objects.get(pk=analyse_only.pk).status == "tests_failed"
    assert Proposal.objects.get(pk=not_mine.pk).status == "tests_failed"
    with pytest.raises(AccessDenied):
        services.request_scan(user, project=watched)


def test_one_broken_proposal_is_counted_and_the_scan_goes_on(user, project, monkeypatch):
    first = Proposal.objects.create(project=project, title="sandbox dies", status="proposed")
    second = Proposal.objects.create(project=project, title="moved on", status="proposed")
    calls = []
    real_deploy = proposal_services.deploy_and_test

    def deploy(proposal_id):
        calls.append(proposal_id)
        if proposal_id == first.pk:
            raise OSError("the sandbox could not start")
        proposal_services.transition(proposal_id, "sandbox_deployed")  # a worker took it meanwhile
        return real_deploy(proposal_id)

    monkeypatch.setattr(services.proposal_services, "deploy_and_test", deploy)
    scan = queue_scan(user)
    services.run_scan(scan.pk)
    scan.refresh_from_db()
    assert calls == [first.pk, second.pk]
    assert scan.status == "succeeded"
    assert (scan.counts["errors"], scan.counts["skipped"], scan.counts["deployed"]) == (1, 1, 0)


def test_a_crashing_step_fails_the_scan_with_the_reason(user, project, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services.grouping, "group_pending_events", crash)
    scan = queue_scan(user)
    assert services.run_scan(scan.pk).status == "failed"
    scan.refresh_from_db()
    assert scan.error == "RuntimeError: database went away" and scan.finished_at
    assert not scan.is_active


def test_a_redelivered_task_does_not_run_the_scan_twice(user, project):
    scan = queue_scan(user)
    assert services.run_scan(scan.pk).status == "succeeded"
    assert services.run_scan(scan.pk) is None
    assert services.run_scan(10**9) is None


def test_one_scan_per_scope_at_a_time_and_a_dead_one_does_not_block(user, project):
    scan = queue_scan(user, project=project)
    again, created = services.request_scan(user, project=project)
    assert again.pk == scan.pk and not created
    everywhere, created = services.request_scan(user)  # another scope
    assert created and everywhere.pk != scan.pk

    long_ago = timezone.now() - services.stale_after() - timedelta(minutes=1)
    HealingScan.objects.filter(pk=scan.pk).update(
        status="running", started_at=long_ago, heartbeat_at=long_ago
    )
    fresh, created = services.request_scan(user, project=project)
    assert created and fresh.pk != scan.pk
    scan.refresh_from_db()
    assert scan.status == "failed" and "stopped responding" in scan.error


def test_the_scan_task_goes_to_the_sandbox_queue(
    user, project, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        scan, _ = services.request_scan(user, project=project)
    assert broker("sandbox", "dashboard.tasks.run_healing_scan") == [[scan.pk]]


def test_a_job_narrows_the_scan_to_its_project(user, project):
    from monitoring.jobs import create_job

    other = core.create_project(user, "Other")
    job = create_job(other, "nightly export")
    scan, _ = services.request_scan(user, job=job)
    assert (scan.project, scan.job, scan.project_ids) == (other, job, [other.pk])
    with pytest.raises(services.BadScanRequest, match="does not belong"):
        services.request_scan(user, project=project, job=job)
    with pytest.raises(services.BadScanRequest, match="Unknown mode 'sometimes'"):
        services.request_scan(user, "sometimes")
