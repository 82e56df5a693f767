import pytest

from patterns import services
from patterns.models import Pattern, PatternStatus
from patterns.services.matching import _similar_python
from selfheal.engine.sandbox import run_tests_in_sandbox
from selfheal.engine.templates import failure_from, signature_of
from tests.factories import ProjectFactory

from .helpers import (
    CLOCK,
    CLOCK_FAILURE,
    CLOCK_FIXED,
    DATES,
    DATES_FAILURE,
    PATHS,
    PATHS_FAILURE,
    PATHS_FIXED,
    failing_context,
    fix,
    patched,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def active_import_pattern():
    """Learned from a rules fix in one project and an LLM fix in another."""
    for files, failure, path, fixed, strategy in [
        (PATHS, PATHS_FAILURE, "paths.py", PATHS_FIXED, "rules"),
        (CLOCK, CLOCK_FAILURE, "clock.py", CLOCK_FIXED, "llm"),
    ]:
        context = failing_context(files, *failure)
        pattern = services.learn_from_fix(
            ProjectFactory(), context, fix(context, path, fixed, strategy), strategy
        )
    assert pattern.status == PatternStatus.ACTIVE
    return pattern


def test_the_template_fixes_the_same_bug_in_another_projects_code(active_import_pattern):
    project = ProjectFactory()
    context = failing_context(DATES, *DATES_FAILURE)
    fixer = services.TemplateFixer(project)
    (candidate,) = fixer.propose(context)
    assert candidate.strategy == "template"
    assert candidate.confidence == pytest.approx(active_import_pattern.confidence)
    assert candidate.metadata["pattern_id"] == active_import_pattern.pk
    assert candidate.metadata["variant"] == "A"
    assert candidate.metadata["template_id"] == active_import_pattern.templates.get().pk
    assert (
        candidate.rule
        == f"pattern:{active_import_pattern.pk}/template:{candidate.metadata['template_id']}"
    )
    assert "add `import datetime`" in candidate.explanation
    fixed = patched(DATES, candidate)
    assert fixed["dates.py"].startswith("import datetime\n")
    # And it really fixes it: the project's own tests pass in the sandbox.
    assert not run_tests_in_sandbox(DATES, "python -m pytest -q").passed
    assert run_tests_in_sandbox(fixed, "python -m pytest -q").passed


def test_exact_signature_first_then_similar_messages_of_the_same_category(active_import_pattern):
    exact = failing_context(PATHS, *PATHS_FAILURE)
    signature = signature_of(failure_from(exact.reports[0], exact.classifications[0], exact.files))
    (match,) = services.find_patterns(signature)
    assert match.exact and match.pattern == active_import_pattern

    other = failing_context(DATES, *DATES_FAILURE)
    signature = signature_of(failure_from(other.reports[0], other.classifications[0], other.files))
    assert signature.key != active_import_pattern.signature
    (match,) = services.find_patterns(signature)  # pg_trgm on the normalised message
    assert not match.exact and match.similarity == pytest.approx(1.0)

    wrong_category = signature.__class__(
        signature.key, "attribute", signature.normalised_message, signature.shape
    )
    assert services.find_patterns(wrong_category) == []


def test_similar_but_not_equal_messages_match_by_trigrams(active_import_pattern):
    from selfheal.engine.templates import Signature

    near = Signature("x" * 64, "undefined_name", "name <str> is not defined here", "?")
    far = Signature("y" * 64, "undefined_name", "maximum recursion depth exceeded", "?")
    (match,) = services.find_patterns(near)
    assert match.pattern == active_import_pattern and 0.5 <= match.similarity < 1.0
    assert services.find_patterns(far) == []


def test_the_python_fallback_matches_the_same_way(active_import_pattern):
    candidates = Pattern.objects.filter(status=PatternStatus.ACTIVE, category="undefined_name")
    (match,) = _similar_python(candidates, "name <str> is not defined here", 5)
    assert match.pattern == active_import_pattern and 0.5 <= match.similarity < 1.0
    assert _similar_python(candidates, "maximum recursion depth exceeded", 5) == []


def test_candidate_and_deprecated_patterns_are_not_used(active_import_pattern):
    services.set_status(active_import_pattern.pk, PatternStatus.DEPRECATED, "test")
    context = failing_context(DATES, *DATES_FAILURE)
    assert services.TemplateFixer(ProjectFactory()).propose(context) == []


def test_a_template_that_no_longer_applies_is_skipped_with_a_reason(active_import_pattern):
    files = {
        "m.py": "def f():\n    return np.zeros(3)\n",
        "tests/test_m.py": "def test_f():\n    pass\n",
    }
    context = failing_context(files, "NameError", "name 'np' is not defined", ("m.py", 2))
    fixer = services.TemplateFixer(ProjectFactory())
    assert fixer.propose(context) == []
    (skipped,) = fixer.skipped
    assert skipped["pattern_id"] == active_import_pattern.pk
    assert "'np' is not a standard-library module" in skipped["reason"]
    active_import_pattern.refresh_from_db()
    assert active_import_pattern.status == PatternStatus.ACTIVE  # skipping is not a fault


def test_a_malformed_template_quarantines_its_pattern(active_import_pattern):
    active_import_pattern.templates.update(
        spec={"v": 1, "kind": "rewrite", "mode": "expr", "before": "a +"}
    )
    context = failing_context(DATES, *DATES_FAILURE)
    fixer = services.TemplateFixer(ProjectFactory())
    assert fixer.propose(context) == []  # not used, not a crash
    active_import_pattern.refresh_from_db()
    assert active_import_pattern.status == PatternStatus.QUARANTINED
    assert "malformed" in active_import_pattern.status_reason
    assert "quarantined" in fixer.skipped[0]["reason"]
    assert services.TemplateFixer(ProjectFactory()).propose(context) == []


def test_proposing_marks_the_pattern_used(active_import_pattern):
    Pattern.objects.filter(pk=active_import_pattern.pk).update(last_used_at=None)
    services.TemplateFixer(ProjectFactory()).propose(failing_context(DATES, *DATES_FAILURE))
    active_import_pattern.refresh_from_db()
    assert active_import_pattern.last_used_at is not None
