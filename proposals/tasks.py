"""Thin Celery wrappers around the proposal services; they run on the `sandbox` queue."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import autofix, services
from .models import Proposal, ProposalStatus

logger = logging.getLogger(__name__)
S = ProposalStatus


@shared_task(name="proposals.tasks.deploy_and_test")
def deploy_and_test(proposal_id: int) -> dict:
    run = services.deploy_and_test(proposal_id)
    return {"proposal_id": proposal_id, "passed": run.passed}


@shared_task(name="proposals.tasks.auto_fix")
def auto_fix(proposal_id: int) -> dict:
    try:
        result = autofix.run_auto_fix(proposal_id)
    except autofix.CannotAutoFix as exc:
        logger.info("auto-fix of proposal %s not started: %s", proposal_id, exc)
        return {"proposal_id": proposal_id, "started": False, "reason": str(exc)}
    return {"proposal_id": proposal_id, "started": True, "success": result.success,
            "status": result.status}  # fmt: skip


@shared_task(name="proposals.tasks.recover_stuck_auto_fixes")
def recover_stuck_auto_fixes() -> dict:
    return {"recovered": recover_stuck(timezone.now())}


def recover_stuck(now) -> list[int]:
    """Proposals whose worker stopped beating (it died mid-attempt): fail the attempt cleanly,
    put the proposal back in tests_failed, and retry the auto-fix once."""
    limit = timedelta(seconds=settings.AUTO_FIX_STALE_SECONDS)
    stale = Proposal.objects.filter(
        status__in=[S.AUTO_FIXING, S.TESTS_RUNNING, S.SANDBOX_DEPLOYED],
        heartbeat_at__lt=now - limit,
    ).values_list("pk", flat=True)
    recovered = []
    for proposal_id in stale:
        with transaction.atomic():
            proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
            if proposal.heartbeat_at >= now - limit or not proposal.in_progress:
                continue  # it moved on while we looked
            was_fixing = proposal.status == S.AUTO_FIXING
            autofix.fail_running_attempts(
                proposal, "The worker running this attempt stopped responding; it was failed."
            )
            proposal.transition_to(S.TESTS_FAILED, "The worker stopped responding mid-run.")
            proposal.stage = ""
            retry = was_fixing and proposal.recovery_count < 1
            proposal.recovery_count += 1
            proposal.save()
            if retry:
                transaction.on_commit(lambda pk=proposal_id: auto_fix.delay(pk))
        recovered.append(proposal_id)
    return recovered


@shared_task(name="proposals.tasks.open_repair_proposal")
def open_repair_proposal(error_group_id: int) -> dict:
    """Sent by monitoring (by name) when a person or the error scan asks for a repair."""
    from .repair_proposals import open_repair_proposal_for_group

    proposal = open_repair_proposal_for_group(error_group_id)
    return {"error_group_id": error_group_id, "proposal_id": proposal.pk if proposal else None}
