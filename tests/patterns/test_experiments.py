"""Fix variants against the database: the real assignment and outcome code, the quality checks
that declare winners, roll them out and roll them back, the template fixer and the auto-fix loop
using it, and the /api/v1/experiments API."""

import random
from collections import Counter

import pytest
from django.contrib.auth import get_user_model

from patterns import services, tasks
from patterns.models import (
    Assignment,
    Experiment,
    ExperimentStatus,
    FixTemplate,
    Pattern,
    PatternStatus,
    StepStatus,
)
from patterns.services import experiments
from tests.factories import ProjectFactory

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

IMPORT = {"v": 1, "kind": "insert_import", "import": "import __msg0",
          "requires": {"__msg0": ["stdlib_module"]}}  # fmt: skip
IMPORT_AS = {"v": 1, "kind": "insert_import", "import": "import __msg0 as __msg0",
             "requires": {"__msg0": ["stdlib_module"]}}  # fmt: skip


def contested_pattern() -> Pattern:
    """An active pattern with two templates that both fix a missing stdlib import."""
    pattern = Pattern.objects.create(signature=f"sig-{Pattern.objects.count()}",
                                     category="undefined_name",
                                     normalised_message="name <str> is not defined",
                                     status=PatternStatus.ACTIVE)  # fmt: skip
    for variant, spec in [("A", IMPORT), ("B", IMPORT_AS)]:
        FixTemplate.objects.create(pattern=pattern, key=variant.lower(), spec=spec,
                                   source="rules", variant=variant,
                                   description=spec["import"])  # fmt: skip
    return pattern


def experiment_on(pattern: Pattern, **options) -> Experiment:
    a, b = pattern.templates.order_by("variant")
    return services.create_experiment(
        [services.VariantSpec("A", a.pk), services.VariantSpec("B", b.pk)],
        pattern=pattern, champion="A", **options,
    )  # fmt: skip


def simulate(experiment: Experiment, true_rate, seed: int, limit: int = 900) -> list:
    """Failures arrive one by one: each gets a variant from the real assignment code, succeeds
    with the variant's true rate, and the outcome goes through record_outcome as the auto-fix
    loop reports it (template id only). The quality checks run every 5 outcomes. Returns the
    (rollout percent, variant) of every assignment."""
    project = ProjectFactory()
    rng, nature = random.Random(seed), random.Random(seed + 1)
    history = []
    for i in range(limit):
        experiment.refresh_from_db()
        if not experiment.is_open:
            return history
        assignment = experiments.assign(experiment, project, rng=rng)
        label = assignment.variant.label
        history.append((assignment.rollout_percent, label))
        success = nature.random() < true_rate(label, assignment.rollout_percent)
        services.record_outcome(experiment.pattern_id, success, project=project,
                                source="auto_fix", detail="simulated",
                                template_id=assignment.variant.template_id)  # fmt: skip
        if i % 5 == 4:
            services.run_quality_checks()
    pytest.fail(f"the experiment was still {experiment.status} after {limit} outcomes")


def test_the_better_variant_wins_and_is_rolled_out_step_by_step():
    pattern = contested_pattern()
    experiment = experiment_on(pattern, min_samples_per_arm=20, step_min_outcomes=10)
    history = simulate(experiment, lambda label, percent: {"A": 0.6, "B": 0.8}[label], seed=1)

    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.COMPLETED
    assert experiment.winner.label == "B" and experiment.champion.label == "A"
    assert "B wins at look" in experiment.decision and "Fisher's exact test p =" in (
        experiment.decision
    )
    steps = list(experiment.steps.order_by("percent"))
    assert [(s.percent, s.status) for s in steps] == [(10, "passed"), (50, "passed"),
                                                      (100, "passed")]  # fmt: skip
    assert all(s.winner_trials >= 10 for s in steps)
    # Every outcome was counted on its assignment, none left pending.
    assert not Assignment.objects.filter(experiment=experiment, success__isnull=True).exists()
    assert Assignment.objects.filter(experiment=experiment).count() == len(history) < 700

    by_step = {p: Counter(label for q, label in history if q == p) for p in (0, 10, 50, 100)}
    assert by_step[0]["B"] > by_step[0]["A"]  # Thompson sampling favoured the better one
    assert by_step[10]["B"] / sum(by_step[10].values()) == pytest.approx(0.10, abs=0.06)
    assert by_step[50]["B"] / sum(by_step[50].values()) == pytest.approx(0.5, abs=0.25)
    assert by_step[100]["A"] == 0
    numbers = {v.label: v for v in services.variant_numbers(experiment)}
    assert numbers["B"].share == 1.0 and numbers["A"].share == 0.0
    assert numbers["B"].interval[0] < numbers["B"].rate < numbers["B"].interval[1]

    # From now on the pattern serves the winner first.
    assert experiments.preferred_template_id(pattern) == experiment.winner.template_id


def test_a_variant_that_degrades_mid_rollout_is_rolled_back_with_its_reason():
    pattern = contested_pattern()
    experiment = experiment_on(pattern, min_samples_per_arm=20, step_min_outcomes=10)

    def true_rate(label, percent):
        if label == "A":
            return 0.6
        return 0.8 if percent < 50 else 0.2  # B breaks once it gets half the traffic

    history = simulate(experiment, true_rate, seed=2)

    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.ROLLED_BACK
    assert experiment.winner.label == "B"
    first, last = experiment.steps.order_by("percent").first(), experiment.steps.last()
    assert (first.percent, first.status) == (10, StepStatus.PASSED)
    assert last.percent >= 50 and last.status == StepStatus.ROLLED_BACK
    assert last.winner_successes / last.winner_trials < 0.5
    assert f"rolled back at {last.percent}%: B regressed" in experiment.status_reason
    assert "one-sided" in last.reason and "champion A:" in last.reason
    assert history[-1][0] == last.percent
    # The champion has all the traffic again.
    assert experiments.assign(experiment, None) is None
    assert experiments.preferred_template_id(pattern) == experiment.champion.template_id
    assert tasks.quality_checks.apply().get()["checked"] == 0


def test_equal_variants_end_without_a_winner_and_the_champion_stays():
    pattern = contested_pattern()
    experiment = experiment_on(pattern, min_samples_per_arm=5)
    simulate(experiment, lambda label, percent: 0.7, seed=4, limit=400)
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.INCONCLUSIVE and experiment.winner is None
    assert experiment.looks_done == 4
    assert experiments.preferred_template_id(pattern) == experiment.champion.template_id


# --- The template fixer and the auto-fix loop ------------------------------------------------


def learned_pattern() -> Pattern:
    for files, failure, path, fixed in [(PATHS, PATHS_FAILURE, "paths.py", PATHS_FIXED),
                                        (CLOCK, CLOCK_FAILURE, "clock.py", CLOCK_FIXED)]:  # fmt: skip
        context = failing_context(files, *failure)
        pattern = services.learn_from_fix(ProjectFactory(), context, fix(context, path, fixed),
                                          "rules")  # fmt: skip
    return pattern


def test_a_second_template_starts_an_experiment_and_the_fixer_proposes_the_assigned_variant(
    monkeypatch,
):
    pattern = learned_pattern()
    assert not pattern.experiments.exists()  # one template: nothing to compare
    FixTemplate.objects.create(pattern=pattern, key="as", spec=IMPORT_AS, source="human",
                               variant="B")  # fmt: skip
    report = services.run_quality_checks()
    (experiment,) = pattern.experiments.all()
    assert report.started == [experiment.pk]
    assert experiment.status == ExperimentStatus.EXPLORING
    assert sorted(experiment.variants.values_list("label", flat=True)) == ["A", "B"]
    assert experiment.champion.label == "A"  # the most confident template

    monkeypatch.setattr(experiments, "_rng", random.Random(5))
    project = ProjectFactory()
    proposed = Counter()
    for _ in range(12):
        candidates = services.TemplateFixer(project).propose(failing_context(PATHS, *PATHS_FAILURE))
        (candidate,) = candidates  # only the assigned variant, not both templates
        meta = candidate.metadata
        assignment = Assignment.objects.get(pk=meta["assignment_id"])
        assert meta["experiment_id"] == experiment.pk
        assert meta["variant"] == assignment.variant.label
        assert meta["template_id"] == assignment.variant.template_id
        assert assignment.project == project and assignment.success is None
        proposed[meta["variant"]] += 1
    assert set(proposed) == {"A", "B"}

    # The loop reports the outcome with the template id: the pending assignment takes it, once.
    services.record_outcome(pattern.pk, False, project=project, source="auto_fix",
                            template_id=meta["template_id"], assignment_id=meta["assignment_id"])  # fmt: skip
    services.record_outcome(pattern.pk, True, project=project, source="auto_fix",
                            template_id=meta["template_id"], assignment_id=meta["assignment_id"])  # fmt: skip
    assert Assignment.objects.get(pk=meta["assignment_id"]).success is False


def test_an_experiment_of_a_pattern_taken_out_of_use_is_stopped():
    pattern = contested_pattern()
    experiment = experiment_on(pattern)
    services.set_status(pattern.pk, PatternStatus.DEPRECATED, "unused")
    result = tasks.quality_checks.apply().get()
    assert result["stopped"] == [experiment.pk] and result["checked"] == 0
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.STOPPED
    assert (
        experiment.status_reason
        == f"stopped by quality checks: pattern #{pattern.pk} is deprecated"
    )


def test_a_failure_only_one_variant_can_fix_is_not_part_of_the_experiment():
    pattern = contested_pattern()
    experiment = experiment_on(pattern)
    assert experiments.assign(experiment, None, eligible={"A"}) is None
    assert experiments.assign(experiment, None, eligible={"A", "B"}) is not None


def test_the_auto_fix_loop_uses_the_assigned_variant_and_counts_its_outcome(project, user):
    from proposals import autofix
    from proposals import services as proposal_services
    from tests.proposals.helpers import load_calculator, missing_import_proposal

    pattern = learned_pattern()
    FixTemplate.objects.create(pattern=pattern, key="as", spec=IMPORT_AS, source="human",
                               variant="B")  # fmt: skip
    (experiment,) = experiments.ensure_pattern_experiments()
    load_calculator(project)
    proposal = missing_import_proposal(project, user)
    proposal_services.deploy_and_test(proposal.pk)

    result = autofix.run_auto_fix(proposal.pk, fixers=[services.TemplateFixer(project)])

    assert result.success
    attempt = proposal.attempts.get()
    (assignment,) = Assignment.objects.filter(experiment=experiment)
    assert attempt.strategy == "template" and attempt.variant == assignment.variant.label
    assert assignment.success is True and assignment.project == project


# --- Quality checks without outcomes; a person's actions --------------------------------------


def rolling_out(pattern: Pattern) -> Experiment:
    """An experiment whose winner B was just declared (seeded outcomes, then a check)."""
    experiment = experiment_on(pattern, min_samples_per_arm=20)
    a, b = experiment.variants.order_by("label")
    for variant, successes in [(a, 8), (b, 19)]:
        for i in range(20):
            Assignment.objects.create(experiment=experiment, variant=variant, success=i < successes,
                                      assigned_at=experiment.created_at)  # fmt: skip
    assert experiments.check_experiment(experiment.pk).action == "winner"
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.ROLLING_OUT and experiment.rollout_percent == 10
    return experiment


@pytest.fixture
def staff_client(client, db):
    staff = get_user_model().objects.create_user("ops", "ops@example.com", "pw-ops-12345",
                                                 is_staff=True)  # fmt: skip
    client.force_login(staff)
    return client


def post(client, url, payload=None):
    return client.post(url, payload or {}, content_type="application/json")


def test_api_creates_experiments_and_shows_per_variant_numbers(staff_client):
    pattern = contested_pattern()
    a, b = pattern.templates.order_by("variant")
    response = post(staff_client, "/api/v1/experiments", {
        "pattern_id": pattern.pk,
        "variants": [{"label": "A", "template_id": a.pk, "share": 0.25},
                     {"label": "B", "template_id": b.pk, "share": 0.75}],
    })  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["allocation"] == "fixed" and body["status"] == "exploring"
    assert [v["traffic_share"] for v in body["variants"]] == [0.25, 0.75]
    experiment = Experiment.objects.get(pk=body["id"])

    rng = random.Random(9)
    picks = Counter(experiments.assign(experiment, None, rng=rng).variant.label
                    for _ in range(200))  # fmt: skip
    assert picks["B"] / 200 == pytest.approx(0.75, abs=0.08)
    for assignment in Assignment.objects.filter(experiment=experiment)[:40]:
        experiments.record_assignment_outcome(assignment.pk, assignment.variant.label == "B")

    detail = staff_client.get(f"/api/v1/experiments/{experiment.pk}").json()
    numbers = {v["label"]: v for v in detail["variants"]}
    assert numbers["B"]["trials"] == numbers["B"]["successes"] > 0
    assert numbers["A"]["successes"] == 0 and numbers["A"]["success_rate"] == 0.0
    assert numbers["A"]["trials"] + numbers["B"]["trials"] == 40
    low, high = numbers["B"]["interval"]
    assert low < 1.0 == high
    listed = staff_client.get("/api/v1/experiments?open=true").json()
    assert [e["id"] for e in listed] == [experiment.pk]


@pytest.mark.parametrize(
    "variants, message",
    [
        ([{"label": "A", "template_id": "A"}], "at least two variants; 1 given"),
        ([{"label": "A", "template_id": "A", "share": 0.5},
          {"label": "B", "template_id": "B", "share": 0.4}], "the shares must sum to 1, not 0.9"),
        ([{"label": "A", "template_id": "A", "share": 1.0},
          {"label": "B", "template_id": "B"}], "give a share for every variant, or for none"),
        ([{"label": "A", "template_id": "A"}, {"label": "A", "template_id": "B"}],
         "variant labels must be unique"),
        ([{"label": "A", "template_id": "A"}, {"label": "B", "template_id": 999999}],
         "999999 are not templates of pattern"),
        ([{"label": "A", "template_id": "A"}, {"label": "B", "template_id": "B"}, "min_samples_per_arm=0"],
         "min_samples_per_arm: Ensure this value is greater than or equal to 5."),
        ([{"label": "A", "template_id": "A"}, {"label": "B", "template_id": "B"}, "method=vote"],
         "method is one of fisher, z_test, bayes"),
        ([{"label": "A", "template_id": "A"}, {"label": "B", "template_id": "B"}, "prompt=x"],
         "about a pattern or a prompt (exactly one)"),
    ],
)  # fmt: skip
def test_api_refuses_bad_experiments_with_a_reason(staff_client, variants, message):
    pattern = contested_pattern()
    ids = dict(pattern.templates.values_list("variant", "pk"))
    payload = {"pattern_id": pattern.pk, "variants": []}
    for variant in variants:
        if isinstance(variant, str):  # another field of the request
            key, value = variant.split("=")
            payload[key] = int(value) if value.isdigit() else value
            continue
        variant["template_id"] = ids.get(variant["template_id"], variant["template_id"])
        payload["variants"].append(variant)
    response = post(staff_client, "/api/v1/experiments", payload)
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Experiment.objects.exists()


def test_api_refuses_a_second_open_experiment_and_a_prompt_experiment_needs_no_template(
    staff_client,
):
    pattern = contested_pattern()
    experiment_on(pattern)
    a, b = pattern.templates.order_by("variant")
    again = post(staff_client, "/api/v1/experiments", {"pattern_id": pattern.pk, "variants": [
        {"label": "A", "template_id": a.pk}, {"label": "B", "template_id": b.pk}]})  # fmt: skip
    assert again.status_code == 409 and "already has an open experiment" in again.json()["detail"]

    prompt = post(staff_client, "/api/v1/experiments", {"prompt": "llm-fix", "method": "bayes",
                  "variants": [{"label": "terse"}, {"label": "step-by-step"}]})  # fmt: skip
    assert prompt.status_code == 201 and prompt.json()["champion"] == "terse"
    assignment = services.assign_prompt_variant("llm-fix", None, rng=random.Random(1))
    services.record_assignment_outcome(assignment.pk, True)
    detail = staff_client.get(f"/api/v1/experiments/{prompt.json()['id']}").json()
    assert sum(v["successes"] for v in detail["variants"]) == 1


def test_api_rollout_actions_and_refusals(staff_client):
    experiment = rolling_out(contested_pattern())
    url = f"/api/v1/experiments/{experiment.pk}"
    assert post(staff_client, f"{url}/rollback").status_code == 400  # a reason is required
    response = post(staff_client, f"{url}/advance", {"reason": "looks fine"})
    assert response.status_code == 200 and response.json()["rollout_percent"] == 50
    assert response.json()["steps"][0]["reason"] == "advanced by ops: looks fine"
    post(staff_client, f"{url}/advance")
    done = post(staff_client, f"{url}/advance").json()
    assert done["status"] == "completed" and done["winner"] == "B"
    assert [s["status"] for s in done["steps"]] == ["passed", "passed", "passed"]

    refused = post(staff_client, f"{url}/advance")
    assert refused.status_code == 409
    assert (
        "is completed: a rollout step is refused on a finished experiment"
        in (refused.json()["detail"])
    )
    assert post(staff_client, f"{url}/rollback", {"reason": "late"}).status_code == 409


def test_a_person_rolls_back_a_rollout_and_exploring_has_nothing_to_advance(staff_client):
    experiment = rolling_out(contested_pattern())
    response = post(staff_client, f"/api/v1/experiments/{experiment.pk}/rollback",
                    {"reason": "customers complain"})  # fmt: skip
    assert response.json()["status"] == "rolled_back"
    assert "rolled back at 10% by ops: customers complain" in response.json()["status_reason"]

    exploring = experiment_on(contested_pattern())
    response = post(staff_client, f"/api/v1/experiments/{exploring.pk}/advance")
    assert response.status_code == 409 and "no winner yet" in response.json()["detail"]
    stopped = post(staff_client, f"/api/v1/experiments/{exploring.pk}/stop", {"reason": "done"})
    assert stopped.json()["status"] == "stopped"


def test_only_staff_change_experiments(api_client):
    pattern = contested_pattern()
    a, b = pattern.templates.order_by("variant")
    response = post(api_client, "/api/v1/experiments", {"pattern_id": pattern.pk, "variants": [
        {"label": "A", "template_id": a.pk}, {"label": "B", "template_id": b.pk}]})  # fmt: skip
    assert response.status_code == 403
    assert api_client.get("/api/v1/experiments").status_code == 200


def test_the_dashboard_shows_a_rollout(client, user, project):
    experiment = rolling_out(contested_pattern())
    experiment.pattern.projects.add(project)
    client.force_login(user)
    html = client.get("/self-healing/parts/experiments").content.decode()
    assert f'id="experiment-{experiment.pk}"' in html
    assert "Rolling out the winner" in html and "<strong>10%</strong>" in html
    assert "champion" in html and "winner" in html
