"""JSON API for project files, proposals, test runs and the auto-fix loop."""

from datetime import datetime

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import File, Router, Schema, Status, UploadedFile
from ninja.errors import HttpError

from selfheal.models import Role
from selfheal.services import get_project_for, projects_for, require_role

from . import autofix, files, services, tasks
from .models import Proposal, TestRun

router = Router(tags=["proposals"])


class ChangeIn(Schema):
    path: str
    action: str = "modify"
    content: str = ""


class ProposalIn(Schema):
    title: str
    description: str = ""
    changes: list[ChangeIn]


class ChangeOut(Schema):
    path: str
    action: str
    origin: str


class ProposalOut(Schema):
    id: int
    project: str
    title: str
    description: str
    status: str
    stage: str
    status_reason: str
    source: str
    created_at: datetime
    changes: list[ChangeOut]

    @staticmethod
    def resolve_project(obj: Proposal) -> str:
        return obj.project.slug

    @staticmethod
    def resolve_changes(obj: Proposal) -> list:
        return list(obj.changes.all())


class TestRunOut(Schema):
    id: int
    passed: bool
    exit_code: int | None
    timed_out: bool
    tests_passed: int
    tests_failed: int
    tests_errored: int
    isolation: str
    duration: float
    failed_tests: list[str]

    @staticmethod
    def resolve_failed_tests(obj: TestRun) -> list[str]:
        return obj.failed_names


class AttemptOut(Schema):
    number: int
    strategy: str
    rule: str
    variant: str
    analysis: dict
    diff: str
    explanation: str
    confidence: float | None
    security_verdict: str
    security_reasons: list
    skipped_strategies: list
    outcome: str
    duration: float
    test_run: TestRunOut | None


class AutoFixOut(Schema):
    success: bool
    fix_applied: bool
    auto_applied: bool
    status: str
    attempts: int
    explanation: str
    next_step: str
    fix_history: list[AttemptOut]


class AutoFixStatusOut(Schema):
    needs_auto_fix: bool
    auto_fix_applied: bool
    auto_fix_attempts: int
    status: str
    current_stage: str
    status_reason: str


class ImportOut(Schema):
    created: int
    updated: int
    unchanged: int
    skipped: list[str]


class FileOut(Schema):
    path: str
    version: int
    size: int


class QueuedOut(Schema):
    queued: bool
    status_url: str


class ReviewIn(Schema):
    note: str = ""


def _proposal_for(request: HttpRequest, proposal_id: int, role: str = Role.VIEWER) -> Proposal:
    proposal = get_object_or_404(
        Proposal.objects.select_related("project"),
        pk=proposal_id,
        project__in=projects_for(request.user),
    )
    require_role(request.user, proposal.project, role)
    return proposal


@router.get("/projects/{project_ref}/files", response=list[FileOut])
def list_files(request: HttpRequest, project_ref: str):
    project = get_project_for(request.user, project_ref)
    return [
        {"path": f.path, "version": f.version, "size": len(f.content.encode())}
        for f in project.files.filter(deleted=False)
    ]


@router.post("/projects/{project_ref}/files/import", response={201: ImportOut})
def import_archive(request: HttpRequest, project_ref: str, archive: File[UploadedFile]):
    """Upload a .zip or .tar.gz of the project; every file becomes a new version."""
    project = get_project_for(request.user, project_ref, Role.ADMIN)
    try:
        found = files.read_archive(archive.read(), archive.name or "upload")
        result = files.import_files(project, found, source=f"upload {archive.name}")
    except files.BadFiles as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, result)


@router.get("/projects/{project_ref}/proposals", response=list[ProposalOut])
def list_proposals(request: HttpRequest, project_ref: str, status: str | None = None):
    project = get_project_for(request.user, project_ref)
    proposals = project.proposals.select_related("project").prefetch_related("changes")
    return proposals.filter(status=status) if status else proposals


@router.post("/projects/{project_ref}/proposals", response={201: ProposalOut})
def create_proposal(request: HttpRequest, project_ref: str, payload: ProposalIn):
    project = get_project_for(request.user, project_ref, Role.REVIEWER)
    changes = [services.ChangeSpec(c.path, c.action, c.content) for c in payload.changes]
    try:
        proposal = services.create_proposal(
            project, payload.title, changes, description=payload.description,
            created_by=request.user, source="api",
        )  # fmt: skip
    except services.BadProposal as exc:
        raise HttpError(400, str(exc)) from None
    return Status(201, proposal)


@router.get("/proposals/{proposal_id}", response=ProposalOut)
def get_proposal(request: HttpRequest, proposal_id: int):
    return _proposal_for(request, proposal_id)


@router.post("/proposals/{proposal_id}/deploy", response={200: TestRunOut, 202: QueuedOut})
def deploy_and_test(request: HttpRequest, proposal_id: int, background: bool = False):
    """Deploy the proposal to a sandbox and run the project's tests (`background=true` queues it)."""
    proposal = _proposal_for(request, proposal_id, Role.REVIEWER)
    if not proposal.can_transition_to("sandbox_deployed"):
        raise HttpError(
            409, f"Proposal #{proposal.pk} is {proposal.status} and cannot be deployed now."
        )
    if background:
        transaction.on_commit(lambda: tasks.deploy_and_test.delay(proposal.pk))
        return Status(202, {"queued": True, "status_url": f"/api/v1/proposals/{proposal.pk}"})
    return Status(200, services.deploy_and_test(proposal.pk))


@router.get("/proposals/{proposal_id}/attempts", response=list[AttemptOut])
def fix_history(request: HttpRequest, proposal_id: int):
    proposal = _proposal_for(request, proposal_id)
    return proposal.attempts.select_related("test_run")


@router.post("/admin/proposals/auto-fix/{proposal_id}", response={200: AutoFixOut, 202: QueuedOut})
def auto_fix(request: HttpRequest, proposal_id: int, background: bool = False):
    """Run the auto-fix loop on a proposal whose tests failed (`background=true` queues it)."""
    proposal = _proposal_for(request, proposal_id, Role.REVIEWER)
    if not proposal.needs_auto_fix:
        raise HttpError(
            409,
            f"Proposal #{proposal.pk} is {proposal.status}; auto-fix needs tests_failed, "
            "unfixable or needs_review.",
        )
    if background:
        transaction.on_commit(lambda: tasks.auto_fix.delay(proposal.pk))
        status_url = f"/api/v1/admin/proposals/auto-fix/status/{proposal.pk}"
        return Status(202, {"queued": True, "status_url": status_url})
    try:
        result = autofix.run_auto_fix(proposal.pk)
    except autofix.CannotAutoFix as exc:
        raise HttpError(409, str(exc)) from None
    return Status(
        200,
        {
            "success": result.success,
            "fix_applied": result.success and proposal.attempts.filter(outcome="passed").exists(),
            "auto_applied": result.auto_applied,
            "status": result.status,
            "attempts": result.attempts,
            "explanation": result.explanation,
            "next_step": result.next_step,
            "fix_history": list(proposal.attempts.select_related("test_run")),
        },
    )


@router.get("/admin/proposals/auto-fix/status/{proposal_id}", response=AutoFixStatusOut)
def auto_fix_status(request: HttpRequest, proposal_id: int):
    proposal = _proposal_for(request, proposal_id)
    return {
        "needs_auto_fix": proposal.needs_auto_fix,
        "auto_fix_applied": proposal.attempts.filter(outcome="passed").exists(),
        "auto_fix_attempts": proposal.attempts.count(),
        "status": proposal.status,
        "current_stage": proposal.stage,
        "status_reason": proposal.status_reason,
    }


@router.post("/proposals/{proposal_id}/approve", response=ProposalOut)
def approve(request: HttpRequest, proposal_id: int, payload: ReviewIn):
    proposal = _proposal_for(request, proposal_id, Role.REVIEWER)
    try:
        return services.approve(proposal.pk, request.user, payload.note)
    except services.WrongState as exc:
        raise HttpError(409, str(exc)) from None


@router.post("/proposals/{proposal_id}/reject", response=ProposalOut)
def reject(request: HttpRequest, proposal_id: int, payload: ReviewIn):
    proposal = _proposal_for(request, proposal_id, Role.REVIEWER)
    try:
        return services.reject(proposal.pk, request.user, payload.note)
    except services.WrongState as exc:
        raise HttpError(409, str(exc)) from None
