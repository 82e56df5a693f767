"""The fix history self-improvement learns from: what held, what was rejected, what was undone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from patterns.services.improvement import fix_history as collected_fix_history
from proposals import files, services
from proposals.history import fix_history
from proposals.models import FixAttempt, Proposal

from .helpers import CALC, load_calculator

pytestmark = pytest.mark.django_db


def _passed_fix(project, title, confidence):
    proposal = services.create_proposal(
        project, title, [services.ChangeSpec("calc.py", "modify", CALC + f"\n# {title}\n")]
    )
    FixAttempt.objects.create(proposal=proposal, number=1, strategy="rules", outcome="passed",
                              confidence=confidence)  # fmt: skip
    Proposal.objects.filter(pk=proposal.pk).update(status="tests_passed")
    return proposal


def test_applied_rejected_and_undone_fixes_are_told_apart(project, user):
    load_calculator(project)
    kept = _passed_fix(project, "kept", 0.9)
    services.approve(kept.pk, None, automatic=True)
    rejected = _passed_fix(project, "rejected", 0.8)
    services.reject(rejected.pk, user)
    undone = _passed_fix(project, "undone", 0.95)
    services.approve(undone.pk, None, automatic=True)
    files.write_files(project, {"calc.py": CALC + "\n# kept\n"}, source="a person's revert")
    waiting = _passed_fix(project, "waiting", 0.7)

    records = {r.confidence: r for r in fix_history(timezone.now() - timedelta(days=1))}

    assert (records[0.9].held, records[0.9].auto_applied) == (True, True)
    assert records[0.8].held is False
    assert (records[0.95].held, records[0.95].auto_applied) == (False, True)
    assert records[0.7].held is None and waiting.status == "proposed"


def test_the_provider_is_registered_with_self_improvement(project):
    load_calculator(project)
    _passed_fix(project, "one", 0.6)
    history = collected_fix_history(timezone.now() - timedelta(days=1))
    assert [r.confidence for r in history] == [0.6]
