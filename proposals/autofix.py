"""The auto-fix loop: analyse → generate a fix → security review → re-test, up to N attempts.

One attempt tries one candidate: the best untried one from the cheapest strategy that has any.
A candidate that makes more tests pass without passing them all is kept and the next attempt
builds on it; one that passes the whole suite ends the loop. Every attempt is stored.
"""

import hashlib
import logging
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Trim
from django.utils import timezone

from selfheal.engine.classify import classify
from selfheal.engine.fixers.base import (
    Candidate,
    FixContext,
    Fixer,
    PreviousAttempt,
    StrategyUnavailable,
    Unfixable,
)
from selfheal.engine.patch import PatchConflict
from selfheal.engine.sandbox import SandboxResult, TestCaseResult
from selfheal.engine.security import review_patch
from selfheal.engine.tracebacks import parse_pytest_output, reports_from_test_results

from . import files as project_files
from . import services
from .models import (
    AttemptOutcome,
    ChangeAction,
    FixAttempt,
    Proposal,
    ProposalChange,
    ProposalStatus,
    TestRun,
)
from .strategies import build_fixers

logger = logging.getLogger(__name__)
S = ProposalStatus
VERDICT_RANK = {"safe": 0, "risky": 1, "blocked": 2}


class CannotAutoFix(Exception):
    """The proposal is not in a state the loop can start from."""


@dataclass
class AutoFixResult:
    proposal_id: int
    success: bool
    status: str
    attempts: int
    explanation: str
    next_step: str
    auto_applied: bool = False


@dataclass
class Analysis:
    reports: list
    classifications: list
    summary: dict = field(default_factory=dict)


def _test_results(run: TestRun) -> list[TestCaseResult]:
    return [
        TestCaseResult(name=r["name"], outcome=r["outcome"], message=r.get("message", ""),
                       details=r.get("details", ""), file=r.get("file", ""), line=r.get("line"))
        for r in run.results
    ]  # fmt: skip


def analyse(run: TestRun, files: dict[str, str]) -> Analysis:
    """Failing tests → parsed error reports → categories and root causes."""
    reports = reports_from_test_results(_test_results(run), project_files=files)
    if not reports and not run.passed:
        reports = parse_pytest_output(run.output)
    classifications = [classify(report) for report in reports]
    summary = {
        "failed_tests": run.failed_names,
        "error_types": sorted({r.exc_type for r in reports if r.exc_type}),
        "categories": sorted({c.category for c in classifications}),
        "root_cause": classifications[0].root_cause if classifications else _no_report_cause(run),
        "error_messages": list(dict.fromkeys(
            f"{r.exc_type}: {r.message}" if r.exc_type else r.message for r in reports
        ))[:10],
    }  # fmt: skip
    return Analysis(reports, classifications, summary)


def _no_report_cause(run: TestRun) -> str:
    if run.timed_out:
        return "The tests did not finish within the time limit."
    return f"The test command failed (exit code {run.exit_code}) without a parsable error."


def sandbox_result_of(run: TestRun) -> SandboxResult:
    return SandboxResult(
        exit_code=run.exit_code, timed_out=run.timed_out, stdout=run.output, stderr="",
        duration=run.duration, isolation=run.isolation, junit_found=bool(run.results),
        tests=_test_results(run),
    )  # fmt: skip


def _digest(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + files[path].encode() + b"\0")
    return h.hexdigest()


def failure_signatures(run: TestRun, files: dict[str, str]) -> set[tuple]:
    """(test, exception type, crash file, crash line) for every failing test of a run."""
    signatures = set()
    for report in reports_from_test_results(_test_results(run), project_files=files):
        frame = report.crash_frame
        where = (frame.filename, frame.lineno) if frame else ("", None)
        signatures.add((report.test_name, report.exc_type, *where))
    return signatures


def is_better(new: TestRun, old: TestRun, files: dict[str, str]) -> bool:
    """Progress without regression: nothing that passed fails now, and either more tests pass or
    every failure changed its kind or its place (a second bug surfaced behind the first). The
    same exception at the same line means the fix did not get past it."""
    if new.timed_out:
        return False
    passed_before = {r["name"] for r in old.results if r["outcome"] == "passed"}
    passed_after = {r["name"] for r in new.results if r["outcome"] == "passed"}
    if not passed_before <= passed_after:
        return False
    if len(passed_after) > len(passed_before):
        return True
    after = failure_signatures(new, files)
    return bool(after) and not failure_signatures(old, files) & after


class CandidateSource:
    """Hands out untried candidates, cheapest strategy first; asks each strategy once per state."""

    def __init__(self, fixers: list[Fixer]):
        self.fixers = fixers
        self.asked: dict[tuple[str, str], list[Candidate]] = {}
        self.tried: set[str] = set()
        self.skipped: list[dict] = []

    def next(
        self, context: FixContext, on_strategy
    ) -> tuple[Candidate, dict[str, str]] | tuple[None, None]:
        """The next untried candidate and the files it produces, or (None, None)."""
        state = _digest(context.files)
        for fixer in self.fixers:
            key = (state, fixer.name)
            if key not in self.asked:
                on_strategy(fixer.name)
                try:
                    self.asked[key] = list(fixer.propose(context))
                except StrategyUnavailable as exc:
                    self.asked[key] = []
                    self.skipped.append({"strategy": fixer.name, "reason": str(exc)})
                    continue
            for candidate in self.asked[key]:
                try:
                    result = candidate.patch.apply(context.files)
                except PatchConflict as exc:
                    logger.info("%s candidate does not apply: %s", fixer.name, exc)
                    continue
                digest = _digest(result)
                if digest == state or digest in self.tried:
                    continue
                self.tried.add(digest)
                return candidate, result
        return None, None


def _start(proposal_id: int) -> Proposal:
    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
        if not proposal.needs_auto_fix:
            raise CannotAutoFix(
                f"Proposal #{proposal.pk} is {proposal.status}; auto-fix starts only from "
                "tests_failed, unfixable or needs_review."
            )
        proposal.transition_to(S.AUTO_FIXING)
        proposal.stage = "Starting auto-fix"
        proposal.heartbeat_at = timezone.now()
        proposal.save(
            update_fields=["status", "status_reason", "stage", "heartbeat_at", "updated_at"]
        )
        return proposal


def keep_fix(proposal: Proposal, before: dict[str, str], after: dict[str, str]) -> None:
    """Write a kept fix into the proposal's changes, so the proposal now carries it."""
    base = project_files.current_files(proposal.project)
    changes = {c.path: c for c in proposal.changes.all()}
    for path in sorted(set(before) | set(after)):
        if before.get(path) == after.get(path):
            continue
        change = changes.get(path)
        if change is None:
            change = ProposalChange(proposal=proposal, path=path, origin="fix")
        if path not in after:
            change.action, change.content = ChangeAction.DELETE, ""
        else:
            change.action = ChangeAction.MODIFY if path in base else ChangeAction.CREATE
            change.content = after[path]
        change.save()


def previous_attempts(proposal: Proposal) -> list[PreviousAttempt]:
    return [
        PreviousAttempt(
            number=a.number, strategy=a.strategy, explanation=a.explanation, diff=a.diff,
            outcome=a.outcome, failed_tests=a.test_run.failed_names if a.test_run else [],
            error_messages=a.analysis.get("error_messages", []),
        )
        for a in proposal.attempts.select_related("test_run").order_by("number")
    ]  # fmt: skip


def run_auto_fix(proposal_id: int, fixers: list[Fixer] | None = None) -> AutoFixResult:
    """The loop. Never leaves the proposal in auto_fixing: any crash fails the attempt cleanly."""
    proposal = _start(proposal_id)
    try:
        return _loop(proposal, fixers)
    except Exception as exc:
        logger.exception("auto-fix of proposal %s crashed", proposal_id)
        fail_running_attempts(proposal, f"The attempt crashed: {exc}")
        reason = f"The auto-fix run crashed ({type(exc).__name__}: {exc}); it can be retried."
        services.transition(proposal_id, S.TESTS_FAILED, reason=reason)
        return AutoFixResult(proposal_id, False, S.TESTS_FAILED, proposal.attempts.count(),
                             reason, "Retry the auto-fix, or fix the proposal by hand.")  # fmt: skip


def fail_running_attempts(proposal: Proposal, why: str) -> None:
    """Close the attempts a crash or a dead worker left running, keeping what they had found."""
    proposal.attempts.filter(outcome=AttemptOutcome.RUNNING).update(
        outcome=AttemptOutcome.ERROR,
        finished_at=timezone.now(),
        explanation=Trim(Concat(F("explanation"), Value("\n" + why))),
    )


def _loop(proposal: Proposal, fixers: list[Fixer] | None) -> AutoFixResult:
    project = proposal.project
    notes: list[dict] = []
    if fixers is None:
        fixers, strategy_notes = build_fixers(project)
        notes = [{"strategy": n.strategy, "reason": n.reason} for n in strategy_notes]
    source = CandidateSource(fixers)
    files = services.proposal_files(proposal)
    run = proposal.test_runs.order_by("-created_at").first()
    if run is None or run.passed:
        services.set_stage(proposal.pk, "Running tests before the first attempt")
        _, run = services.run_tests(proposal, files)
    if run.passed:
        return _finish_passed(proposal, [], files, run)
    max_attempts = project.max_fix_attempts
    first_number = (
        proposal.attempts.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    kept: list[FixAttempt] = []
    kept_candidates: list[tuple[Candidate, FixContext]] = []
    last_explanation = ""

    for i in range(1, max_attempts + 1):
        label = f"Attempt {i}/{max_attempts}"
        services.set_stage(proposal.pk, f"{label} — analysing the failure")
        started = time.monotonic()
        analysis = analyse(run, files)
        attempt = FixAttempt.objects.create(
            proposal=proposal, number=first_number + i - 1, analysis=analysis.summary
        )
        context = FixContext(
            files=files,
            changed_paths=[c.path for c in proposal.changes.exclude(action=ChangeAction.DELETE)],
            test_command=project.test_command,
            test_result=sandbox_result_of(run),
            reports=analysis.reports,
            classifications=analysis.classifications,
            proposal_title=proposal.title,
            proposal_description=proposal.description,
            original_changes=[
                {"path": c.path, "action": c.action, "content": c.original_content}
                for c in proposal.changes.filter(origin="proposal")
            ],
            previous_attempts=previous_attempts(proposal),
            passing_versions=project_files.passing_versions(project, list(files)),
        )
        try:
            candidate, new_files = source.next(
                context,
                lambda name, label=label: services.set_stage(
                    proposal.pk, f"{label} — generating a fix ({name})"
                ),
            )
        except Unfixable as exc:
            _close(attempt, AttemptOutcome.UNFIXABLE, started, explanation=str(exc),
                   skipped=notes + source.skipped)  # fmt: skip
            return _finish_unfixable(proposal, f"A fixer judged it unfixable: {exc}")
        if candidate is None:
            _close(attempt, AttemptOutcome.NO_CANDIDATE, started,
                   explanation="No strategy had a fix left to try.", skipped=notes + source.skipped)  # fmt: skip
            break
        attempt.strategy, attempt.rule = candidate.strategy, candidate.rule[:200]
        attempt.variant = str(candidate.metadata.get("variant", ""))[:50]
        attempt.pattern_id = candidate.metadata.get("pattern_id")
        attempt.explanation, attempt.confidence = candidate.explanation, candidate.confidence
        attempt.diff = candidate.patch.to_unified_diff(files)
        services.set_stage(proposal.pk, f"{label} — security review")
        review = review_patch(candidate.patch, files)
        attempt.security_verdict, attempt.security_reasons = review.verdict, review.reasons
        if review.verdict == "blocked":
            _close(attempt, AttemptOutcome.BLOCKED, started, skipped=notes + source.skipped)
            _pattern_outcome(candidate, False, project, "blocked by the security review")
            continue
        services.set_stage(proposal.pk, f"{label} — running tests")
        result, new_run = services.run_tests(proposal, new_files)
        attempt.test_run = new_run
        last_explanation = candidate.explanation
        if new_run.passed:
            _close(attempt, AttemptOutcome.PASSED, started, skipped=notes + source.skipped)
            keep_fix(proposal, files, new_files)
            kept.append(attempt)
            kept_candidates.append((candidate, context))
            _learn(proposal, kept_candidates)
            return _finish_passed(proposal, kept, new_files, new_run)
        if is_better(new_run, run, new_files):
            _close(attempt, AttemptOutcome.IMPROVED, started, skipped=notes + source.skipped)
            keep_fix(proposal, files, new_files)
            kept.append(attempt)
            kept_candidates.append((candidate, context))
            files, run = new_files, new_run
        else:
            _close(attempt, AttemptOutcome.FAILED, started, skipped=notes + source.skipped)
            _pattern_outcome(candidate, False, project, "the tests still failed")

    reason = f"No fix made the tests pass after {proposal.attempts.filter(number__gte=first_number).count()} attempt(s)."
    if last_explanation:
        reason += f" Last tried: {last_explanation}"
    return _finish_unfixable(proposal, reason)


def _close(attempt: FixAttempt, outcome: str, started: float, *, explanation: str = "",
           skipped: list | None = None) -> None:  # fmt: skip
    attempt.outcome = outcome
    if explanation:
        attempt.explanation = explanation
    attempt.skipped_strategies = skipped or []
    attempt.duration = time.monotonic() - started
    attempt.finished_at = timezone.now()
    attempt.save()


def _pattern_outcome(candidate: Candidate, success: bool, project, detail: str) -> None:
    """A template's outcome counts for its pattern (and its A/B assignment); any other strategy's
    candidate that was assigned a prompt variant reports to that assignment."""
    from patterns.services import record_assignment_outcome, record_outcome

    pattern_id = candidate.metadata.get("pattern_id")
    assignment_id = candidate.metadata.get("assignment_id")
    if candidate.strategy == "template" and pattern_id:
        record_outcome(pattern_id, success, project=project, source="auto_fix", detail=detail,
                       template_id=candidate.metadata.get("template_id"),
                       assignment_id=assignment_id)  # fmt: skip
    elif assignment_id:
        record_assignment_outcome(assignment_id, success)


def _learn(proposal: Proposal, kept: list[tuple[Candidate, FixContext]]) -> None:
    """Every kept fix of a run that ends passing teaches the pattern table; a template counts a win."""
    from patterns.services import learn_from_fix

    for fix, context in kept:
        _pattern_outcome(fix, True, proposal.project, "the tests passed")
        if fix.strategy != "template":
            learn_from_fix(proposal.project, context, fix, source=fix.strategy)


def _finish_unfixable(proposal: Proposal, reason: str) -> AutoFixResult:
    services.transition(proposal.pk, S.UNFIXABLE, reason=reason)
    services.report_to_error_group(proposal, healed=False)
    return AutoFixResult(proposal.pk, False, S.UNFIXABLE, proposal.attempts.count(), reason,
                         "A person needs to fix this proposal by hand, or retry with the LLM fixer on.")  # fmt: skip


def _finish_passed(proposal: Proposal, kept: list[FixAttempt], files: dict[str, str],
                   run: TestRun) -> AutoFixResult:  # fmt: skip
    from patterns.services import decide_auto_apply

    project = proposal.project
    explanation = " Then: ".join(a.explanation for a in kept) or "The tests pass as they are."
    project_files.mark_versions_passing(project, files)
    verdict = max(
        (a.security_verdict or "safe" for a in kept), key=VERDICT_RANK.__getitem__, default="safe"
    )
    if verdict != "safe":
        services.transition(proposal.pk, S.NEEDS_REVIEW,
                            reason=f"The fix passes the tests but its security review says {verdict}.")  # fmt: skip
        return AutoFixResult(proposal.pk, True, S.NEEDS_REVIEW, proposal.attempts.count(), explanation,
                             "A reviewer must approve or reject the fix (security review: risky).")  # fmt: skip
    services.transition(proposal.pk, S.TESTS_PASSED, reason=services.summarise_run(run))
    confidence = min((a.confidence for a in kept if a.confidence is not None), default=1.0)
    decision = decide_auto_apply(project, confidence, verdict)
    if decision.apply:
        note = "Auto-applied: " + "; ".join(decision.reasons)
        services.approve(proposal.pk, reviewer=None, note=note, automatic=True)
        return AutoFixResult(proposal.pk, True, S.APPLIED, proposal.attempts.count(), explanation,
                             "Nothing: the fix was applied automatically.", auto_applied=True)  # fmt: skip
    return AutoFixResult(proposal.pk, True, S.TESTS_PASSED, proposal.attempts.count(), explanation,
                         "Review the fix and approve it: " + "; ".join(decision.reasons))  # fmt: skip
