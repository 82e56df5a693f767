"""Repair proposals opened from an error group, and the group settled by the proposal's fate."""

import pytest

from monitoring.errors import ErrorSubmission, submit_error
from monitoring.grouping import group_pending_events
from monitoring.models import ErrorGroup
from proposals import services, tasks
from proposals.models import Proposal

pytestmark = pytest.mark.django_db

TRACEBACK = """Traceback (most recent call last):
  File "/srv/shop/views.py", line 12, in checkout
    total = order_total(lines)
  File "/srv/shop/pricing.py", line 20, in order_total
    total += quantity * unit_price
TypeError: unsupported operand type(s) for *: 'int' and 'NoneType'
"""


@pytest.fixture
def healing_group(project):
    submit_error(project, ErrorSubmission(stacktrace=TRACEBACK, release="1.4.0"))
    group_pending_events()
    group = ErrorGroup.objects.get(project=project)
    ErrorGroup.objects.filter(pk=group.pk).update(status="healing")
    return group


def test_the_proposal_carries_the_errors_context(healing_group):
    outcome = tasks.open_repair_proposal(healing_group.pk)
    proposal = Proposal.objects.get(pk=outcome["proposal_id"])
    assert proposal.source == "error_group" and proposal.error_group_id == healing_group.pk
    assert proposal.title.startswith("Repair: TypeError")
    assert 'File "/srv/shop/pricing.py", line 20, in order_total' in proposal.description
    assert "Releases: 1.4.0" in proposal.description
    # Asked twice (a retried task, a second click): still one open proposal.
    assert tasks.open_repair_proposal(healing_group.pk)["proposal_id"] == proposal.pk


def test_rejecting_the_repair_puts_the_group_back_to_unresolved(healing_group, user):
    proposal_id = tasks.open_repair_proposal(healing_group.pk)["proposal_id"]
    services.reject(proposal_id, user, "not this way")
    healing_group.refresh_from_db()
    assert healing_group.status == "unresolved"


def test_an_unknown_group_opens_nothing():
    assert tasks.open_repair_proposal(999_999) == {"error_group_id": 999_999, "proposal_id": None}
