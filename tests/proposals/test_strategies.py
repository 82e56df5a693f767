import pytest

from proposals.models import FixAttempt, Proposal, Review
from proposals.strategies import build_fixers, learned_mutation_priors
from selfheal.engine.fixers.mutation.operators import DEFAULT_PRIORS

pytestmark = pytest.mark.django_db


def _mutation_fix(project, operator, outcome, rejected=False):
    proposal = Proposal.objects.create(project=project, title=f"{operator} {outcome}")
    FixAttempt.objects.create(proposal=proposal, number=1, strategy="mutation", rule=operator,
                              outcome=outcome)  # fmt: skip
    if rejected:
        Review.objects.create(proposal=proposal, decision="rejected")


def test_mutation_priors_follow_how_each_operators_fixes_fared(project):
    for _ in range(4):
        _mutation_fix(project, "swap", "passed", rejected=True)
        _mutation_fix(project, "negation", "passed")
    priors = learned_mutation_priors()
    # The fixed prior weighs as 4 outcomes: 4 rejections halve it, 4 held fixes pull it up.
    assert priors["swap"] == pytest.approx(4 * DEFAULT_PRIORS["swap"] / 8)
    assert priors["negation"] == pytest.approx((4 * DEFAULT_PRIORS["negation"] + 4) / 8)
    assert priors["relational"] == DEFAULT_PRIORS["relational"]  # no evidence, no change


def test_without_an_api_key_the_chain_says_the_llm_is_off(project, settings):
    settings.ANTHROPIC_API_KEY = ""
    fixers, notes = build_fixers(project)
    assert [f.name for f in fixers] == ["template", "rules", "mutation", "revert"]
    assert [(n.strategy, n.reason) for n in notes] == [
        ("llm", "ANTHROPIC_API_KEY is not set; the LLM fixer is off")
    ]


def test_with_a_key_the_llm_fixer_runs_behind_its_circuit_breaker(project, settings):
    settings.ANTHROPIC_API_KEY = "sk-test"
    fixers, notes = build_fixers(project)
    assert fixers[-1].name == "llm" and notes == []
    assert type(fixers[-1]).__name__ == "BreakerGuardedFixer"
