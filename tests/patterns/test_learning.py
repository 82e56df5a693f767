import pytest

from patterns import services
from patterns.models import FixTemplate, IllegalTransition, Pattern, PatternOutcome, PatternStatus
from selfheal import services as core
from selfheal.models import Role
from selfheal.services import AccessDenied
from tests.factories import ProjectFactory, UserFactory

from .helpers import (
    CLOCK,
    CLOCK_FAILURE,
    CLOCK_FIXED,
    PATHS,
    PATHS_FAILURE,
    PATHS_FIXED,
    failing_context,
    fix,
)

pytestmark = pytest.mark.django_db


def learn_paths(project, strategy="rules"):
    context = failing_context(PATHS, *PATHS_FAILURE)
    return services.learn_from_fix(
        project, context, fix(context, "paths.py", PATHS_FIXED, strategy), strategy
    )


def learn_clock(project, strategy="llm"):
    context = failing_context(CLOCK, *CLOCK_FAILURE)
    return services.learn_from_fix(
        project, context, fix(context, "clock.py", CLOCK_FIXED, strategy), strategy
    )


def test_a_first_fix_makes_a_candidate_pattern_with_an_executable_template():
    project = ProjectFactory()
    pattern = learn_paths(project)
    assert pattern.status == PatternStatus.CANDIDATE
    assert pattern.category == "undefined_name"
    assert pattern.normalised_message == "name <str> is not defined"
    assert (pattern.successes, pattern.failures) == (1, 0)
    assert pattern.confidence == pytest.approx(2 / 3)  # Beta(1, 1) prior, one success
    assert list(pattern.projects.all()) == [project]
    (template,) = pattern.templates.all()
    assert template.spec["kind"] == "insert_import"
    assert (template.source, template.variant, template.occurrences) == ("rules", "A", 1)
    outcome = pattern.outcomes.get()
    assert outcome.source == "learned:rules" and outcome.success and outcome.project == project


def test_learning_the_same_failure_again_counts_once():
    project = ProjectFactory()
    first = learn_paths(project)
    second = learn_paths(project)
    assert first.pk == second.pk
    second.refresh_from_db()
    assert second.successes == 1
    assert second.status == PatternStatus.CANDIDATE


def test_two_similar_fixes_from_two_failures_make_it_active_across_projects():
    project_a, project_b = ProjectFactory(), ProjectFactory()
    pattern = learn_paths(project_a)
    again = learn_clock(project_b)  # other code, other shape, the same fix: one pattern
    assert again.pk == pattern.pk
    again.refresh_from_db()
    assert again.status == PatternStatus.ACTIVE
    assert "2 successful fixes from 2 distinct failures" in again.status_reason
    assert again.successes == 2
    assert set(again.projects.all()) == {project_a, project_b}
    assert FixTemplate.objects.get(pattern=again).occurrences == 2


def test_a_fix_that_does_not_reduce_to_a_template_teaches_nothing():
    project = ProjectFactory()
    context = failing_context(PATHS, *PATHS_FAILURE)
    rewrite = "import os\n\n\ndef here():\n    return os.getcwd()\n\n\ndef there():\n    return 1\n"
    assert (
        services.learn_from_fix(project, context, fix(context, "paths.py", rewrite), "llm") is None
    )
    assert not Pattern.objects.exists()


def test_a_blocked_fix_is_never_learned():
    project = ProjectFactory()
    context = failing_context(PATHS, *PATHS_FAILURE)
    evil = "import os\n\n\ndef here():\n    os.system('id')\n    return os.getcwd()\n"
    assert services.learn_from_fix(project, context, fix(context, "paths.py", evil), "llm") is None
    assert not Pattern.objects.exists()


def test_confidence_moves_with_every_outcome():
    project = ProjectFactory()
    pattern = learn_paths(project)
    expected = [(1, 0)]
    for success in [True, True, False, True, False, False]:
        outcome = services.record_outcome(pattern.pk, success, project=project, source="auto_fix")
        s, f = expected[-1]
        expected.append((s + success, f + (not success)))
        s, f = expected[-1]
        assert outcome.confidence_after == pytest.approx((s + 1) / (s + f + 2))
    pattern.refresh_from_db()
    assert (pattern.successes, pattern.failures) == (4, 3)
    assert pattern.confidence == pytest.approx(5 / 9)
    assert pattern.outcomes.count() == 7


def test_template_outcomes_count_on_the_template_too():
    pattern = learn_paths(ProjectFactory())
    template = pattern.templates.get()
    services.record_outcome(
        pattern.pk, False, project=None, source="auto_fix", template_id=template.pk
    )
    template.refresh_from_db()
    assert (template.successes, template.failures) == (1, 1)
    assert template.confidence == pytest.approx(0.5)


def test_outcome_for_a_vanished_pattern_is_dropped_not_a_crash():
    assert services.record_outcome(999999, True, project=None, source="auto_fix") is None


def test_a_template_candidate_that_passed_counts_as_a_success_of_its_pattern():
    project = ProjectFactory()
    pattern = learn_paths(project)
    context = failing_context(CLOCK, *CLOCK_FAILURE)
    candidate = fix(context, "clock.py", CLOCK_FIXED, strategy="template")
    candidate.metadata = {"pattern_id": pattern.pk, "template_id": pattern.templates.get().pk}
    assert services.learn_from_fix(project, context, candidate, "template").pk == pattern.pk
    pattern.refresh_from_db()
    assert pattern.successes == 2
    assert pattern.outcomes.first().source == "template"


def test_only_reviewers_and_admins_may_review():
    owner, reviewer, viewer, stranger = (UserFactory(password=None) for _ in range(4))
    project = core.create_project(owner, "Shop")
    pattern = learn_paths(project)
    core.add_member(project, reviewer, Role.REVIEWER)
    core.add_member(project, viewer, Role.VIEWER)

    services.record_review(pattern.pk, True, reviewer, project)
    services.record_review(pattern.pk, False, owner, project)
    for person in (viewer, stranger):
        with pytest.raises(AccessDenied):
            services.record_review(pattern.pk, True, person, project)
    pattern.refresh_from_db()
    assert (pattern.successes, pattern.failures) == (2, 1)  # learned + approval, rejection
    assert list(pattern.outcomes.filter(source="review").values_list("success", flat=True)) == [
        False,
        True,
    ]


def test_status_is_a_state_machine():
    pattern = learn_paths(ProjectFactory())
    services.set_status(pattern.pk, PatternStatus.QUARANTINED, "bad template")
    with pytest.raises(IllegalTransition):
        services.set_status(pattern.pk, PatternStatus.ACTIVE, "no: release it first")
    services.set_status(pattern.pk, PatternStatus.CANDIDATE, "released")


def test_decay_deprecates_unused_and_unreliable_patterns(settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.PATTERNS_DECAY_DAYS = 30
    project = ProjectFactory()
    stale = learn_paths(project)
    failing = learn_clock(project)  # joins the same pattern: make a second, distinct one
    assert failing.pk == stale.pk
    context = failing_context(
        {"m.py": "def f(x):\n    return x > 1\n"}, "AssertionError", "assert False", ("m.py", 2)
    )
    unreliable = services.learn_from_fix(
        project, context, fix(context, "m.py", "def f(x):\n    return x >= 1\n"), "mutation"
    )
    for _ in range(5):
        services.record_outcome(unreliable.pk, False, project=project, source="auto_fix")
    Pattern.objects.filter(pk=stale.pk).update(last_used_at=timezone.now() - timedelta(days=31))

    deprecated = services.decay_patterns()
    assert {p.pk for p in deprecated} == {stale.pk, unreliable.pk}
    stale.refresh_from_db()
    unreliable.refresh_from_db()
    assert stale.status == unreliable.status == PatternStatus.DEPRECATED
    assert stale.status_reason == "unused for 30 days"
    assert "below the floor 0.30" in unreliable.status_reason
    assert services.decay_patterns() == []  # nothing left to do


def test_a_deprecated_pattern_learned_again_becomes_a_candidate():
    project = ProjectFactory()
    pattern = learn_paths(project)
    services.set_status(pattern.pk, PatternStatus.DEPRECATED, "unused")
    again = learn_clock(project)
    assert again.pk == pattern.pk and again.status in (
        PatternStatus.CANDIDATE,
        PatternStatus.ACTIVE,
    )
    assert PatternOutcome.objects.filter(pattern=pattern).count() == 2
