"""Proposals: create, deploy to the sandbox and test, review, apply. The only place that changes them.

The auto-fix loop lives in `autofix.py`; both go through `transition()` for every status change.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from selfheal.engine.sandbox import SandboxLimits, SandboxResult, run_tests_in_sandbox
from selfheal.models import Project, Role
from selfheal.services import require_role

from . import files as project_files
from .models import (
    ChangeAction,
    Proposal,
    ProposalChange,
    ProposalStatus,
    Review,
    ReviewDecision,
    TestRun,
)

S = ProposalStatus
MAX_OUTPUT_CHARS = 100_000


@dataclass
class ChangeSpec:
    path: str
    action: str  # create / modify / delete
    content: str = ""


class BadProposal(ValueError):
    """A proposal that cannot be taken as submitted; the message says why."""


class WrongState(Exception):
    """The proposal's status does not allow this action now (the message says which does)."""


def sandbox_limits() -> SandboxLimits:
    return SandboxLimits(
        cpu_seconds=settings.SANDBOX_CPU_SECONDS,
        memory_mb=settings.SANDBOX_MEMORY_MB,
        wall_seconds=settings.SANDBOX_WALL_SECONDS,
    )


@transaction.atomic
def create_proposal(
    project: Project,
    title: str,
    changes: list[ChangeSpec],
    *,
    description: str = "",
    created_by: AbstractBaseUser | None = None,
    source: str = "api",
    error_group_id: int | None = None,
) -> Proposal:
    """Validate every change against the project's files, then save all of it or nothing."""
    title = title.strip()
    if not title:
        raise BadProposal("A proposal needs a title.")
    if not changes and error_group_id is None:
        raise BadProposal("A proposal needs at least one file change.")
    existing = project_files.current_files(project)
    seen: set[str] = set()
    rows = []
    for change in changes:
        try:
            path = project_files.check_file(change.path, change.content)
        except project_files.BadFiles as exc:
            raise BadProposal(str(exc)) from None
        if path in seen:
            raise BadProposal(f"{path}: changed twice in one proposal.")
        seen.add(path)
        if change.action not in ChangeAction.values:
            raise BadProposal(
                f"{path}: unknown action {change.action!r} (create, modify or delete)."
            )
        if change.action == ChangeAction.CREATE and path in existing:
            raise BadProposal(f"{path}: already exists; use modify.")
        if change.action in (ChangeAction.MODIFY, ChangeAction.DELETE) and path not in existing:
            raise BadProposal(f"{path}: no such file in project {project.slug!r}; use create.")
        content = "" if change.action == ChangeAction.DELETE else change.content
        rows.append(ProposalChange(path=path, action=change.action, content=content,
                                   original_content=content))  # fmt: skip
    proposal = Proposal.objects.create(
        project=project, title=title[:300], description=description, created_by=created_by,
        source=source, error_group_id=error_group_id,
    )  # fmt: skip
    for row in rows:
        row.proposal = proposal
    ProposalChange.objects.bulk_create(rows)
    return proposal


def proposal_files(proposal: Proposal) -> dict[str, str]:
    """The project's files with the proposal's changes applied: what the sandbox runs."""
    files = project_files.current_files(proposal.project)
    for change in proposal.changes.all():
        if change.action == ChangeAction.DELETE:
            files.pop(change.path, None)
        else:
            files[change.path] = change.content
    return files


@transaction.atomic
def transition(proposal_id: int, status: str, *, stage: str = "", reason: str = "") -> Proposal:
    """Lock the row, check the state machine, save. Raises IllegalTransition."""
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    proposal.transition_to(status, reason)
    proposal.stage = stage
    proposal.heartbeat_at = timezone.now()
    proposal.save(update_fields=["status", "status_reason", "stage", "heartbeat_at", "updated_at"])
    return proposal


def set_stage(proposal_id: int, stage: str) -> None:
    """Live progress for the UI, and the heartbeat that tells a working task from a dead one."""
    Proposal.objects.filter(pk=proposal_id).update(stage=stage, heartbeat_at=timezone.now())


def record_test_run(proposal: Proposal, command: str, result: SandboxResult) -> TestRun:
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for test in result.tests:
        counts[test.outcome] = counts.get(test.outcome, 0) + 1
    output = result.stdout + ("\n--- stderr ---\n" + result.stderr if result.stderr.strip() else "")
    return TestRun.objects.create(
        proposal=proposal,
        command=command,
        passed=result.passed,
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        tests_passed=counts["passed"],
        tests_failed=counts["failed"],
        tests_errored=counts["error"],
        tests_skipped=counts["skipped"],
        results=[
            {
                "name": t.name,
                "outcome": t.outcome,
                "message": t.message[:2000],
                "details": t.details[:20000],
                "file": t.file,
                "line": t.line,
            }
            for t in result.tests
        ],  # fmt: skip
        output=output[-MAX_OUTPUT_CHARS:],
        isolation=result.isolation,
        duration=result.duration,
    )


def run_tests(proposal: Proposal, files: dict[str, str]) -> tuple[SandboxResult, TestRun]:
    result = run_tests_in_sandbox(
        files,
        proposal.project.test_command,
        sandbox_limits(),
        allow_unsafe=settings.SANDBOX_ALLOW_UNSAFE,
    )
    return result, record_test_run(proposal, proposal.project.test_command, result)


def deploy_and_test(proposal_id: int) -> TestRun:
    """proposed/failed → sandbox_deployed → tests_running → tests_passed | tests_failed."""
    proposal = transition(proposal_id, S.SANDBOX_DEPLOYED, stage="Deploying to the sandbox")
    files = proposal_files(proposal)
    proposal = transition(proposal_id, S.TESTS_RUNNING, stage="Running tests")
    try:
        result, run = run_tests(proposal, files)
    except Exception as exc:
        transition(proposal_id, S.TESTS_FAILED, reason=f"The sandbox could not run: {exc}")
        raise
    if result.passed:
        project_files.mark_versions_passing(proposal.project, files)
        transition(proposal_id, S.TESTS_PASSED, reason=summarise_run(run))
    else:
        transition(proposal_id, S.TESTS_FAILED, reason=summarise_run(run))
    return run


def summarise_run(run: TestRun) -> str:
    if run.timed_out:
        return "The test run was stopped at its time limit."
    if run.passed:
        return f"{run.tests_passed} tests passed."
    parts = [
        f"{run.tests_failed} failed",
        f"{run.tests_errored} errors",
        f"{run.tests_passed} passed",
    ]
    if not run.results:
        return f"The test command exited with {run.exit_code} and reported no tests."
    return ", ".join(parts) + "."


def report_to_error_group(proposal: Proposal, healed: bool) -> None:
    """A repair proposal opened from an error group settles the group: resolved when its fix was
    applied, back to unresolved when it was rejected or could not be fixed."""
    if proposal.error_group_id is None:
        return
    from monitoring.errors import finish_healing
    from monitoring.models import ErrorGroup, ErrorGroupStatus

    group = ErrorGroup.objects.filter(
        pk=proposal.error_group_id, status=ErrorGroupStatus.HEALING
    ).first()
    if group is not None:
        finish_healing(group, healed and proposal.changes.exists())


def report_review_to_patterns(proposal: Proposal, approved: bool, reviewer) -> None:
    """A person's verdict on fixes made by learned templates counts for (or against) the pattern."""
    if reviewer is None:
        return
    from patterns.services import record_review

    kept = proposal.attempts.filter(outcome__in=["passed", "improved"], pattern_id__isnull=False)
    for pattern_id in set(kept.values_list("pattern_id", flat=True)):
        record_review(pattern_id, approved, reviewer, proposal.project)


def ensure_can_review(user: AbstractBaseUser, proposal: Proposal) -> None:
    require_role(user, proposal.project, Role.REVIEWER)


@transaction.atomic
def approve(proposal_id: int, reviewer: AbstractBaseUser | None, note: str = "",
            automatic: bool = False) -> Proposal:  # fmt: skip
    """Approve and apply: the proposal's files (with its fixes) become the project's files."""
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    if reviewer is not None:
        ensure_can_review(reviewer, proposal)
    if not proposal.can_transition_to(S.APPROVED):
        raise WrongState(
            f"Proposal #{proposal.pk} is {proposal.status}; only a proposal whose tests passed "
            "(or that waits for review) can be approved."
        )
    proposal.transition_to(S.APPROVED, note)
    proposal.save(update_fields=["status", "status_reason", "updated_at"])
    Review.objects.create(proposal=proposal, decision=ReviewDecision.APPROVED, reviewer=reviewer,
                          note=note, automatic=automatic)  # fmt: skip
    report_review_to_patterns(proposal, True, reviewer)
    apply_to_project(proposal)
    return proposal


def apply_to_project(proposal: Proposal) -> None:
    changes = {
        c.path: (None if c.action == ChangeAction.DELETE else c.content)
        for c in proposal.changes.all()
    }
    project_files.write_files(proposal.project, changes, source=f"proposal #{proposal.pk}")
    proposal.transition_to(S.APPLIED, proposal.status_reason)
    proposal.stage = ""
    proposal.save(update_fields=["status", "status_reason", "stage", "updated_at"])
    report_to_error_group(proposal, healed=True)


@transaction.atomic
def reject(proposal_id: int, reviewer: AbstractBaseUser | None, note: str = "") -> Proposal:
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    if reviewer is not None:
        ensure_can_review(reviewer, proposal)
    if not proposal.can_transition_to(S.REJECTED):
        raise WrongState(
            f"Proposal #{proposal.pk} is {proposal.status} and cannot be rejected now."
        )
    proposal.transition_to(S.REJECTED, note)
    proposal.stage = ""
    proposal.save(update_fields=["status", "status_reason", "stage", "updated_at"])
    Review.objects.create(proposal=proposal, decision=ReviewDecision.REJECTED, reviewer=reviewer,
                          note=note)  # fmt: skip
    report_review_to_patterns(proposal, False, reviewer)
    report_to_error_group(proposal, healed=False)
    return proposal
