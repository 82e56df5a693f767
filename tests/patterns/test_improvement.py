"""The self-improvement cycle: calibration and threshold optimisation give the known answer on
constructed histories; maturity, learning efficiency, the stored report, and every way to run it
(beat task, manage.py self_improve, API, page)."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from patterns import services, tasks
from patterns.models import AutoApplyPolicy, ImprovementRun, Pattern, PatternStatus
from patterns.services import improvement
from patterns.services.improvement import FixRecord
from selfheal import services as core
from selfheal.engine import calibration
from tests.factories import ProjectFactory

# --- Pure: the known answers --------------------------------------------------------------------


def test_a_calibrated_history_has_no_calibration_error():
    # Fixes at confidence 0.2 pass 2 times in 10, fixes at 0.8 pass 8 times in 10.
    probabilities = [0.2] * 10 + [0.8] * 10
    outcomes = [i < 2 for i in range(10)] + [i < 8 for i in range(10)]
    result = calibration.calibrate(probabilities, outcomes)
    assert result.ece == pytest.approx(0.0)
    assert result.brier == pytest.approx(0.16)  # (2·0.64 + 8·0.04 + 8·0.04 + 2·0.64) / 20
    filled = [b for b in result.bins if b.count]
    assert [(b.lower, b.count, b.accuracy) for b in filled] == [(0.2, 10, 0.2), (0.8, 10, 0.8)]


def test_an_overconfident_history_shows_it():
    # Confidence 0.9, right half of the time.
    result = calibration.calibrate([0.9] * 20, [i % 2 == 0 for i in range(20)])
    assert result.ece == pytest.approx(0.4)
    assert result.brier == pytest.approx(0.41)  # (0.01 + 0.81) / 2
    assert calibration.calibrate([], []) is None


def decided_fixes() -> list[tuple[float, bool]]:
    """20 fixes at 0.65 (10 held), 20 at 0.75 (18 held), 40 at 0.85 (all held)."""
    return (
        [(0.65, i < 10) for i in range(20)]
        + [(0.75, i < 18) for i in range(20)]
        + [(0.85, True) for _ in range(40)]
    )


def test_the_lowest_threshold_with_95_percent_precision():
    # ≥ 0.66: (18 + 40) / 60 = 96.7% held; ≥ 0.65: 68 / 80 = 85%.
    choice = calibration.optimise_threshold(decided_fixes())
    assert choice.threshold == pytest.approx(0.66)
    assert "58 of 60 decided fixes at confidence ≥ 0.66 held (96.7% ≥ 95%)" in choice.reason
    assert choice.row(0.65).precision == pytest.approx(0.85)
    # A stricter target needs the 0.85 fixes alone: ≥ 0.76.
    assert calibration.optimise_threshold(decided_fixes(), target=0.98).threshold == (
        pytest.approx(0.76)
    )


def test_no_threshold_without_the_evidence():
    too_few = calibration.optimise_threshold(decided_fixes(), min_support=100)
    assert too_few.threshold is None and "not enough evidence" in too_few.reason
    unreliable = [(0.9, i % 4 != 0) for i in range(40)]  # 75% held everywhere
    choice = calibration.optimise_threshold(unreliable)
    assert choice.threshold is None
    assert "no threshold reaches 95% precision" in choice.reason and "75.0%" in choice.reason


def test_maturity_rules():
    assert calibration.maturity(3, 3, 1) == calibration.YOUNG
    assert calibration.maturity(20, 19, 1) == calibration.PROVEN
    assert calibration.maturity(20, 12, 1) == calibration.UNRELIABLE
    assert calibration.maturity(20, 19, 45) == calibration.STALE


# --- The stored run -----------------------------------------------------------------------------


@pytest.fixture
def history():
    """A fix history provider the test fills, registered as proposals registers its own."""
    records: list[FixRecord] = []

    def provider(since):
        return [r for r in records if r.at >= since]

    services.register_fix_history(provider)
    yield records
    improvement.unregister_fix_history(provider)


def record(project, confidence, passed=True, held=None, strategy="rules", days_ago=1, auto=False):
    return FixRecord(project.pk, timezone.now() - timedelta(days=days_ago), strategy, confidence,
                     passed, auto_applied=auto, held=held)  # fmt: skip


@pytest.mark.django_db
def test_thresholds_are_proposed_or_applied_per_the_projects_policy(history):
    proposing, applying = ProjectFactory(name="Proposing"), ProjectFactory(name="Applying")
    AutoApplyPolicy.objects.create(project=applying, threshold_optimisation="apply")
    for project in (proposing, applying):
        history += [record(project, c, held=h, auto=c >= 0.85) for c, h in decided_fixes()]

    run = services.run_self_improvement("test")

    rows = {row["project"]: row for row in run.report["thresholds"]}
    assert rows["Proposing"]["action"] == "proposed"
    assert rows["Proposing"]["recommended"] == pytest.approx(0.66)
    assert rows["Applying"]["action"] == "applied" and rows["Applying"]["auto_applied"] == 40
    proposing.refresh_from_db(), applying.refresh_from_db()
    assert proposing.auto_apply_threshold == 0.85  # a person decides
    assert applying.auto_apply_threshold == pytest.approx(0.66)
    evidence = {e["threshold"]: e for e in rows["Proposing"]["evidence"]}
    assert (evidence[0.66]["decided"], evidence[0.66]["held"]) == (60, 58)
    assert evidence[0.85]["precision"] == 1.0 and evidence[0.65]["precision"] == 0.85
    assert "Proposing: threshold 0.85 → 0.66 proposed" in run.summary

    # Next week the applied threshold is where the evidence says: nothing more to do.
    again = services.run_self_improvement("test")
    rows = {row["project"]: row for row in again.report["thresholds"]}
    assert rows["Applying"]["action"] == "unchanged"


@pytest.mark.django_db
def test_calibration_in_the_report(history):
    project = ProjectFactory()
    history += [record(project, 0.2, passed=i < 2, strategy="llm") for i in range(10)]
    history += [record(project, 0.8, passed=i < 8) for i in range(10)]
    history.append(record(project, None, passed=True))  # no confidence: not a forecast
    report = services.run_self_improvement("test").report["calibration"]
    assert report["count"] == 20
    assert report["brier"] == pytest.approx(0.16) and report["ece"] == pytest.approx(0.0)
    assert report["per_strategy"]["llm"] == {"count": 10, "brier": 0.16, "ece": 0.0}
    assert sum(b["count"] for b in report["bins"]) == 20


@pytest.mark.django_db
def test_learning_efficiency_week_by_week(history):
    project = ProjectFactory()
    history += [record(project, 0.9, strategy="template", days_ago=0) for _ in range(3)]
    history += [record(project, 0.9, strategy="llm", days_ago=0)]
    history += [record(project, 0.5, strategy="rules", days_ago=35) for _ in range(4)]
    history += [record(project, 0.5, passed=False, strategy="template", days_ago=0)]
    efficiency = services.run_self_improvement("test").report["efficiency"]
    weeks = efficiency["weeks"]
    assert len(weeks) == 12
    assert (weeks[-1]["template"], weeks[-1]["fresh"], weeks[-1]["template_share"]) == (3, 1, 0.75)
    five_weeks_ago = [w for w in weeks if w["fixes"] == 4 and w["fresh"] == 4]
    assert len(five_weeks_ago) == 1 and five_weeks_ago[0]["template_share"] == 0.0
    assert efficiency["template_share"] == pytest.approx(3 / 8)


@pytest.mark.django_db
def test_pattern_maturity_in_the_report():
    now = timezone.now()
    for n, (successes, failures, used_days_ago) in enumerate(
        [(2, 0, 1), (19, 1, 1), (10, 10, 1), (19, 1, 45), (5, 0, 2)]
    ):
        Pattern.objects.create(signature=f"s{n}", category="type", normalised_message=f"m{n}",
                               status=PatternStatus.ACTIVE, successes=successes, failures=failures,
                               last_used_at=now - timedelta(days=used_days_ago))  # fmt: skip
    Pattern.objects.create(signature="gone", category="type", normalised_message="x",
                           status=PatternStatus.DEPRECATED)  # fmt: skip
    run = services.run_self_improvement("test")
    run.refresh_from_db()  # as stored
    groups = run.report["maturity"]["groups"]
    assert [(g["label"], g["count"]) for g in groups] == [
        ("young", 2), ("proven", 1), ("unreliable", 1), ("stale", 1),
    ]  # fmt: skip
    assert groups[-1]["rule"] == "not used for 30 days"
    assert "2 young, 1 proven, 1 unreliable, 1 stale patterns" in run.summary


@pytest.mark.django_db
def test_without_a_provider_the_report_says_so(monkeypatch):
    from patterns.services import improvement

    monkeypatch.setattr(improvement, "_providers", [])  # proposals registers one at start-up
    run = services.run_self_improvement("test")
    assert run.report["calibration"] is None and run.report["thresholds"] == []
    assert "no fix history provider is registered" in run.report["history"]["note"]
    assert run.summary.startswith("no fix history to calibrate")


# --- Every way to run it ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_weekly_task_and_the_command_store_a_run(history):
    project = ProjectFactory(name="Shop")
    history += [record(project, c, held=h) for c, h in decided_fixes()]
    result = tasks.self_improvement.apply().get()
    assert ImprovementRun.objects.get(pk=result["run"]).trigger == "beat"

    out = StringIO()
    call_command("self_improve", stdout=out)
    assert "Shop: 0.85 -> 0.66 (proposed)" in out.getvalue()
    out = StringIO()
    call_command("self_improve", "--json", stdout=out)
    assert json.loads(out.getvalue())["thresholds"][0]["recommended"] == 0.66
    assert list(ImprovementRun.objects.values_list("trigger", flat=True)) == [
        "command", "command", "beat",
    ]  # fmt: skip


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("ops", "ops@example.com", "pw-ops-12345",
                                                is_staff=True)  # fmt: skip


@pytest.mark.django_db
def test_api_runs_on_demand_for_staff_and_lists_runs(api_client, staff, history):
    assert api_client.post("/api/v1/self-improvement/runs").status_code == 403
    _, staff_key = core.create_api_key(staff, "ops")
    response = api_client.post("/api/v1/self-improvement/runs",
                               HTTP_AUTHORIZATION=f"Bearer {staff_key}")  # fmt: skip
    assert response.status_code == 201
    body = response.json()
    assert body["trigger"] == "api" and "maturity" in body["report"]
    listed = api_client.get("/api/v1/self-improvement/runs").json()
    assert [r["id"] for r in listed] == [body["id"]]
    assert api_client.get(f"/api/v1/self-improvement/runs/{body['id']}").status_code == 200


@pytest.mark.django_db
def test_the_page_shows_the_report_and_staff_can_run_it(client, user, staff, history):
    project = ProjectFactory(name="Shop")
    history += [record(project, c, held=h) for c, h in decided_fixes()]
    client.force_login(user)
    html = client.get("/self-healing/improvement").content.decode()
    assert 'id="no-improvement-run"' in html and "Run self-improvement now" not in html
    assert client.post("/self-healing/improvement/run").status_code == 403

    client.force_login(staff)
    response = client.post("/self-healing/improvement/run")
    run = ImprovementRun.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"?run={run.pk}")
    html = client.get(response.url).content.decode()
    assert "Brier score" in html and "Shop" in html and "0.66" in html
    assert "Run self-improvement now" in html


@pytest.mark.django_db
def test_admin_shows_runs_and_experiments(client, history):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-1234")
    project = ProjectFactory(name="Shop")
    history += [record(project, c, held=h) for c, h in decided_fixes()]
    run = services.run_self_improvement("test")
    from .test_experiments import contested_pattern, experiment_on

    experiment = experiment_on(contested_pattern())
    client.force_login(admin)
    for url in [
        "/admin/patterns/improvementrun/",
        f"/admin/patterns/improvementrun/{run.pk}/change/",
        "/admin/patterns/experiment/",
        f"/admin/patterns/experiment/{experiment.pk}/change/",
        "/admin/patterns/autoapplypolicy/add/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
    page = client.get(f"/admin/patterns/improvementrun/{run.pk}/change/").content.decode()
    assert "Auto-apply thresholds" in page and "0.66" in page
