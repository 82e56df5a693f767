import pytest

from proposals.models import PROPOSAL_TRANSITIONS, IllegalTransition, Proposal, ProposalStatus

S = ProposalStatus


def test_every_status_has_a_transition_row():
    assert set(PROPOSAL_TRANSITIONS) == set(S.values)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (S.PROPOSED, S.SANDBOX_DEPLOYED),
        (S.TESTS_RUNNING, S.TESTS_FAILED),
        (S.TESTS_FAILED, S.AUTO_FIXING),
        (S.AUTO_FIXING, S.TESTS_PASSED),
        (S.TESTS_PASSED, S.APPROVED),
        (S.APPROVED, S.APPLIED),
    ],
)
def test_the_healing_path_is_allowed(start, end):
    proposal = Proposal(status=start)
    proposal.transition_to(end)
    assert proposal.status == end


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (S.PROPOSED, S.APPLIED),
        (S.TESTS_FAILED, S.APPROVED),
        (S.APPLIED, S.PROPOSED),
        (S.REJECTED, S.AUTO_FIXING),
        (S.TESTS_PASSED, S.AUTO_FIXING),
    ],
)
def test_an_illegal_transition_raises_and_changes_nothing(start, end):
    proposal = Proposal(status=start)
    with pytest.raises(IllegalTransition, match=f"from {start} to {end}"):
        proposal.transition_to(end)
    assert proposal.status == start
