"""The loop across processes: a real Celery worker picks the task up and heals the proposal."""

import time
from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from proposals import services, tasks
from proposals.models import FixAttempt, Proposal

from .helpers import load_calculator, missing_import_proposal


def wait_for_status(proposal_id, statuses, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = Proposal.objects.get(pk=proposal_id).status
        if status in statuses:
            return status
        time.sleep(0.3)
    return Proposal.objects.get(pk=proposal_id).status


@pytest.mark.worker
def test_a_real_worker_runs_deploy_and_the_auto_fix_loop(celery_worker_process, project, user):
    load_calculator(project)
    proposal = missing_import_proposal(project, user)

    tasks.deploy_and_test.delay(proposal.pk)
    status = wait_for_status(proposal.pk, {"tests_failed", "tests_passed"})
    assert status == "tests_failed", celery_worker_process.read_text()[-3000:]

    tasks.auto_fix.delay(proposal.pk)
    status = wait_for_status(proposal.pk, {"tests_passed", "unfixable", "needs_review"})
    assert status == "tests_passed", celery_worker_process.read_text()[-3000:]
    attempt = FixAttempt.objects.get(proposal=proposal, outcome="passed")
    assert "+import math" in attempt.diff


@pytest.mark.django_db
def test_a_proposal_whose_worker_died_is_recovered_and_retried_once(project, user, monkeypatch):
    load_calculator(project)
    proposal = missing_import_proposal(project, user)
    services.deploy_and_test(proposal.pk)
    Proposal.objects.filter(pk=proposal.pk).update(
        status="auto_fixing", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    FixAttempt.objects.create(proposal=proposal, number=1)
    queued = []
    monkeypatch.setattr(tasks.auto_fix, "delay", lambda pk: queued.append(pk))

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert tasks.recover_stuck(timezone.now()) == [proposal.pk]

    proposal.refresh_from_db()
    assert proposal.status == "tests_failed" and proposal.recovery_count == 1
    assert FixAttempt.objects.get(proposal=proposal).outcome == "error"
    assert queued == [proposal.pk]

    # Dies again: recovered, but not retried a second time.
    Proposal.objects.filter(pk=proposal.pk).update(
        status="auto_fixing", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        tasks.recover_stuck(timezone.now())
    assert queued == [proposal.pk]


@pytest.mark.django_db
def test_a_working_proposal_is_left_alone(project, user):
    load_calculator(project)
    proposal = missing_import_proposal(project, user)
    Proposal.objects.filter(pk=proposal.pk).update(
        status="auto_fixing", heartbeat_at=timezone.now()
    )
    assert tasks.recover_stuck(timezone.now()) == []
