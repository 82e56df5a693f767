"""Learn: the same kind of bug in two projects is fixed by the LLM (recorded answers through the
real SDK), its pattern turns active, and the next occurrence is fixed by the template alone."""

import pytest

from patterns.models import Pattern
from patterns.services import TemplateFixer
from proposals import autofix, files, services
from selfheal import services as core
from selfheal.engine.fixers.llm import LLMFixer
from tests.anthropic_replay import replay_client

from .helpers import load_calculator

pytestmark = pytest.mark.django_db

TEST_GEOMETRY = """from geometry import {name}


def test_{name}():
    assert {name}(3, 4) == 5.0
"""


def geometry_proposal(project, name, args):
    """geometry.py gains a function that uses math.sqrt without importing math."""
    a, b = args
    code = f"def {name}({a}, {b}):\n    return math.sqrt({a} * {a} + {b} * {b})\n"
    proposal = services.create_proposal(
        project,
        f"Add {name}",
        [
            services.ChangeSpec("geometry.py", "create", code),
            services.ChangeSpec(f"tests/test_{name}.py", "create", TEST_GEOMETRY.format(name=name)),
        ],
    )
    services.deploy_and_test(proposal.pk)
    return proposal


def heal(proposal, client):
    fixers = [TemplateFixer(proposal.project), LLMFixer(client, "claude-sonnet-4-6")]
    return autofix.run_auto_fix(proposal.pk, fixers=fixers)


def test_a_pattern_learned_from_two_projects_fixes_the_third_without_the_llm(user):
    first, second, third = (core.create_project(user, name) for name in ("One", "Two", "Three"))
    for project in (first, second, third):
        load_calculator(project)

    client, transport = replay_client("learn_missing_import_a", "learn_missing_import_b")
    assert heal(geometry_proposal(first, "hypot", ("a", "b")), client).success
    assert heal(geometry_proposal(second, "diagonal", ("w", "h")), client).success
    assert len(transport.requests) == 2 and transport.exhausted

    pattern = Pattern.objects.get(category="undefined_name")
    assert pattern.status == "active"
    assert pattern.successes == 2 and pattern.confidence == pytest.approx(0.75)

    proposal = geometry_proposal(third, "distance", ("x", "y"))
    result = heal(proposal, client)

    assert result.success
    assert len(transport.requests) == 2  # the LLM was not asked again
    attempt = proposal.attempts.get()
    assert attempt.strategy == "template" and attempt.pattern_id == pattern.pk
    assert "+import math" in attempt.diff
    pattern.refresh_from_db()
    assert pattern.successes == 3 and pattern.confidence == pytest.approx(0.8)


def test_a_confident_safe_fix_is_applied_only_where_the_project_allows(user):
    from .test_autofix import FIXED, ScriptedFixer

    cautious = core.create_project(user, "Cautious")
    trusting = core.create_project(user, "Trusting", stopping_point="auto_apply")
    outcomes = {}
    for project in (cautious, trusting):
        load_calculator(project)
        from .helpers import missing_import_proposal

        proposal = missing_import_proposal(project, user)
        services.deploy_and_test(proposal.pk)
        result = autofix.run_auto_fix(
            proposal.pk, fixers=[ScriptedFixer("rules", [FIXED], confidence=0.97)]
        )
        outcomes[project.slug] = (result.status, result.auto_applied)

    assert outcomes["cautious"] == ("tests_passed", False)
    assert outcomes["trusting"] == ("applied", True)
    assert "import math" in files.current_files(trusting)["calc.py"]
    assert "import math" not in files.current_files(cautious)["calc.py"]


def test_an_llm_prompt_experiment_assigns_a_variant_and_counts_its_outcome(user):
    from patterns.models import Assignment
    from patterns.services import LLM_PROMPT, PromptVariantFixer, VariantSpec, create_experiment

    create_experiment(
        [
            VariantSpec("A", description=""),
            VariantSpec("B", description="Prefer the smallest edit."),
        ],
        prompt=LLM_PROMPT,
    )
    project = core.create_project(user, "Prompted")
    load_calculator(project)
    client, transport = replay_client("learn_missing_import_a")
    llm = LLMFixer(client, "claude-sonnet-4-6")

    proposal = geometry_proposal(project, "hypot", ("a", "b"))
    result = autofix.run_auto_fix(proposal.pk, fixers=[PromptVariantFixer(llm, project)])

    assert result.success
    assignment = Assignment.objects.get()
    attempt = proposal.attempts.get()
    assert attempt.strategy == "llm" and attempt.variant == assignment.variant.label
    assert assignment.success is True
    system = transport.requests[0].body["system"]
    assert ("Prefer the smallest edit." in system) == (assignment.variant.label == "B")
