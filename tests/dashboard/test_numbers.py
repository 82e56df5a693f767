"""The dashboard's numbers on constructed histories whose answers are known."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import charts, queries
from monitoring.models import ErrorEvent, ErrorGroup, HealingAction, Job, JobRun
from patterns.models import CircuitBreaker, FixTemplate, Pattern
from proposals import files, services
from proposals.models import Proposal, Review
from selfheal import services as core
from selfheal.services import ProjectNotFound
from tests.dashboard.helpers import healing_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def stranger_project(other_user):
    return core.create_project(other_user, "Not yours")


def pattern(n: int, project=None, **fields) -> Pattern:
    row = Pattern.objects.create(
        signature=f"sig-{n}", category=fields.pop("category", "import"),
        normalised_message=fields.pop("message", f"name 'mod{n}' is not defined"), **fields,
    )  # fmt: skip
    if project is not None:
        row.projects.add(project)
    return row


def test_heals_success_rate_confidence_and_time_to_heal(user, project, stranger_project, now):
    healing_run(project, now - timedelta(days=1), ["passed"], confidence=0.8)  # took 60 s
    healing_run(project, now - timedelta(days=2), ["failed", "passed"], confidence=0.9)  # 120 s
    healing_run(project, now - timedelta(days=3), ["improved", "failed", "passed"], confidence=1.0)
    healing_run(project, now - timedelta(days=3), ["failed", "no_candidate"])
    healing_run(project, now - timedelta(days=45), ["passed"])  # before the window
    healing_run(project, now - timedelta(minutes=1), ["failed"], status="auto_fixing")  # running
    healing_run(stranger_project, now - timedelta(days=1), ["passed"])  # not the reader's

    numbers = queries.headline(queries.scope_for(user), now)

    assert numbers.successful_heals == 3
    assert numbers.finished_runs == 4
    assert numbers.success_rate == pytest.approx(0.75)
    assert numbers.average_confidence == pytest.approx(0.9)
    assert numbers.mean_time_to_heal == timedelta(seconds=(60 + 120 + 180) / 3)
    assert numbers.false_positive_rate is None  # nothing was auto-applied


def test_patterns_learned_count_all_but_quarantined_and_narrow_to_a_project(user, project):
    pattern(1, project, status="active", successes=4, failures=1)
    pattern(2, status="candidate", successes=1)
    pattern(3, project, status="quarantined")
    everything = queries.headline(queries.scope_for(user), timezone.now())
    assert (everything.patterns_learned, everything.active_patterns) == (2, 1)
    mine = queries.headline(queries.scope_for(user, project.slug), timezone.now())
    assert (mine.patterns_learned, mine.active_patterns) == (1, 1)

    shown = queries.learned_patterns(queries.scope_for(user))
    assert [p.signature for p in shown] == ["sig-1", "sig-2"]  # most used first
    assert shown[0].success_rate == pytest.approx(0.8)


def auto_applied(project, path: str, content: str, action: str = "modify") -> Proposal:
    proposal = services.create_proposal(
        project, f"Change {path}", [services.ChangeSpec(path, action, content)]
    )
    Proposal.objects.filter(pk=proposal.pk).update(status="tests_passed")
    return services.approve(proposal.pk, None, "Auto-applied: confident", automatic=True)


def test_false_positives_are_auto_applied_fixes_later_reverted_or_rejected(user, project):
    files.import_files(
        project,
        {"a.py": "A = 1\n", "b.py": "B = 1\n", "c.py": "C = 1\n", "e.py": "E = 1\n"},
        "import",
    )
    reverted = auto_applied(project, "a.py", "A = 2\n")
    files.write_files(project, {"a.py": "A = 1\n"}, source="revert")  # back to what it was

    held = auto_applied(project, "b.py", "B = 2\n")
    files.write_files(project, {"b.py": "B = 3\n"}, source="proposal #999")  # moved on, not back

    created_then_deleted = auto_applied(project, "d.py", "D = 1\n", action="create")
    files.write_files(project, {"d.py": None}, source="revert")

    rejected = auto_applied(project, "c.py", "C = 2\n")
    Review.objects.create(proposal=rejected, decision="rejected", note="broke billing")

    by_hand = services.create_proposal(
        project, "By hand", [services.ChangeSpec("e.py", "modify", "E = 2\n")]
    )
    Proposal.objects.filter(pk=by_hand.pk).update(status="tests_passed")
    services.approve(by_hand.pk, user, "looks fine")
    files.write_files(
        project, {"e.py": "E = 1\n"}, source="revert"
    )  # not auto-applied: not counted

    now = timezone.now()
    flagged = queries.auto_applied_proposals([project.pk], now - timedelta(days=1), now).filter(
        false_positive=True
    )
    assert set(flagged.values_list("pk", flat=True)) == {
        reverted.pk,
        created_then_deleted.pk,
        rejected.pk,
    }
    numbers = queries.headline(queries.scope_for(user), now)
    assert (numbers.auto_applied, numbers.false_positives) == (4, 3)
    assert numbers.false_positive_rate == pytest.approx(0.75)
    assert held.pk not in flagged.values_list("pk", flat=True)


def test_errors_groups_and_the_review_queue(user, project, stranger_project, now):
    group = ErrorGroup.objects.create(
        project=project, fingerprint="f1", first_seen=now, last_seen=now
    )
    ErrorGroup.objects.create(
        project=project, fingerprint="f2", first_seen=now, last_seen=now, status="resolved"
    )
    for hours, grouped in [(1, True), (5, True), (23, False), (30, True)]:
        ErrorEvent.objects.create(project=project, source="json", payload={}, timestamp=now - timedelta(hours=hours),
                                  group=group if grouped else None)  # fmt: skip
    ErrorEvent.objects.create(project=stranger_project, source="json", payload={}, timestamp=now)
    Proposal.objects.create(project=project, title="waits", status="tests_passed")
    Proposal.objects.create(project=project, title="risky", status="needs_review")
    Proposal.objects.create(project=project, title="new", status="proposed")

    numbers = queries.headline(queries.scope_for(user), now)
    assert numbers.error_events_24h == 3
    assert numbers.open_error_groups == 1
    assert numbers.events_waiting == 1
    assert numbers.awaiting_review == 2


def test_recent_actions_merge_fix_attempts_and_job_healing_newest_first(
    user, project, stranger_project, now
):
    first = healing_run(project, now - timedelta(hours=3), ["failed", "passed"], title="Add hypot")
    healing_run(stranger_project, now - timedelta(minutes=1), ["passed"], title="Secret")
    job = Job.objects.create(project=project, name="nightly export", slug="nightly")
    run = JobRun.objects.create(job=job, status="stuck", last_activity_at=now)
    HealingAction.objects.create(job=job, run=run, problem="stuck", kind="webhook", target="http://x/retry",
                                 called_ok=True, detail="HTTP 200", created_at=now - timedelta(hours=2))  # fmt: skip

    actions = queries.recent_actions(queries.scope_for(user))
    assert [(a.kind, a.what, a.outcome) for a in actions] == [
        ("job", "Stuck job · webhook", "pending"),
        ("fix", "Fix attempt 2 · rules", "passed"),
        ("fix", "Fix attempt 1 · rules", "failed"),
    ]
    assert (
        actions[1].title == f"#{first.pk} Add hypot" and actions[1].url == f"/proposals/{first.pk}/"
    )


def test_healing_by_day_and_its_charts(user, project, now):
    healing_run(project, now - timedelta(days=2), ["passed"])
    healing_run(project, now - timedelta(days=2), ["failed"])
    healing_run(project, now - timedelta(days=1), ["passed"])
    points = queries.healing_by_day(queries.scope_for(user), now, days=7)
    assert len(points) == 7 and points[-1].day.date() == now.date()
    assert [(p.runs, p.healed) for p in points][-3:] == [(2, 1), (1, 1), (0, 0)]
    assert points[-3].success_rate == 0.5 and points[-1].success_rate is None

    bars = charts.heals_chart(points)
    assert bars.count('class="healed"') == 7 and "1 healed of 2 finished runs" in bars
    line = charts.success_rate_chart(points)
    assert line.count("<circle") == 2 and "50% (1 of 2)" in line and "100% (1 of 1)" in line


def test_experiments_are_patterns_with_competing_templates(user, project):
    contested = pattern(1, project, status="active")
    for variant, successes, failures in [("A", 6, 4), ("B", 9, 1)]:
        FixTemplate.objects.create(pattern=contested, key=f"k{variant}", spec={}, source="rules", variant=variant,
                                   successes=successes, failures=failures)  # fmt: skip
    single = pattern(2, project, status="active")
    FixTemplate.objects.create(pattern=single, key="k", spec={}, source="rules", variant="A")

    experiments = queries.running_experiments(queries.scope_for(user))
    assert [e.pattern.pk for e in experiments] == [contested.pk]
    a, b = experiments[0].variants
    assert (a.label, a.trials, a.rate) == ("A", 10, 0.6) and (b.label, b.rate) == ("B", 0.9)
    assert b.interval[0] < 0.9 < b.interval[1]


def test_breakers_open_first(db):
    CircuitBreaker.objects.create(name="anthropic", state="closed")
    CircuitBreaker.objects.create(name="webhooks", state="open", opened_at=timezone.now(),
                                  next_probe_at=timezone.now() + timedelta(minutes=1))  # fmt: skip
    assert [b.name for b in queries.breakers()] == ["webhooks", "anthropic"]


def test_a_project_the_reader_may_not_see_is_not_found(user, stranger_project):
    with pytest.raises(ProjectNotFound):
        queries.scope_for(user, stranger_project.slug)
