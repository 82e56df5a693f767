"""The proposals UI (HTMX, server-rendered): list, new proposal, detail with live auto-fix progress,
fix history and review. Views stay thin: state changes go through services and tasks."""

import difflib
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from selfheal.models import Role
from selfheal.services import AccessDenied, ProjectNotFound, projects_for, require_role

from . import files as project_files
from . import services, tasks
from .forms import ChangeFormSet, ProposalFilterForm, ProposalForm
from .models import ChangeAction, Proposal, ProposalStatus

logger = logging.getLogger(__name__)
PAGE_SIZE = 50
RESULT_OK = {ProposalStatus.TESTS_PASSED, ProposalStatus.APPROVED, ProposalStatus.APPLIED}


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff as (css class, line) pairs: add, del, hunk, or "" for context."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            css = "file"
        elif line.startswith("+"):
            css = "add"
        elif line.startswith("-"):
            css = "del"
        elif line.startswith("@@"):
            css = "hunk"
        else:
            css = ""
        lines.append((css, line))
    return lines


def change_diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def _visible_proposal(request: HttpRequest, pk: int) -> Proposal:
    """The proposal if it belongs to one of the user's projects; 404 otherwise, so ids can't be probed."""
    return get_object_or_404(
        Proposal.objects.select_related("project"), pk=pk, project__in=projects_for(request.user)
    )


def _can_review(request: HttpRequest, proposal: Proposal) -> bool:
    try:
        require_role(request.user, proposal.project, Role.REVIEWER)
    except (AccessDenied, ProjectNotFound):
        return False
    return True


def _micros(proposal: Proposal) -> int:
    return int(proposal.updated_at.timestamp() * 1_000_000)


def _since(request: HttpRequest) -> int | None:
    """The proposal's `updated_at` when a task was queued: until it moves, the task hasn't run."""
    raw = request.GET.get("since", "")
    return int(raw) if raw.isdigit() else None


def _progress_context(proposal: Proposal, since: int | None) -> dict:
    queued = since is not None and not proposal.in_progress and _micros(proposal) <= since
    polling = proposal.in_progress or queued
    return {
        "polling": polling,
        "queued": queued,
        "since": since,
        # A poll carries the timestamp it started from, so it can tell when the task is done.
        "poll_since": since if since is not None else _micros(proposal),
        "result_ok": proposal.status in RESULT_OK,
        "just_finished": since is not None and not polling,
        "busy": polling,
        "attempts_so_far": list(proposal.attempts.order_by("number")),
    }


def _detail_context(request: HttpRequest, proposal: Proposal, since: int | None = None) -> dict:
    can_review = _can_review(request, proposal)
    context = {
        "nav": "proposals",
        "proposal": proposal,
        "can_review": can_review,
        "can_deploy": can_review and proposal.can_transition_to(ProposalStatus.SANDBOX_DEPLOYED),
        **_progress_context(proposal, since),
    }
    if context["polling"] and request.htmx:
        return context  # a poll while the task works swaps in only the progress, status, buttons
    current = project_files.current_files(proposal.project)
    changes = []
    for change in proposal.changes.all():
        after = "" if change.action == ChangeAction.DELETE else change.content
        diff = change_diff(change.path, current.get(change.path, ""), after)
        changes.append({"change": change, "diff_lines": diff_lines(diff)})
    attempts = [
        {"attempt": a, "diff_lines": diff_lines(a.diff)}
        for a in proposal.attempts.select_related("test_run").order_by("number")
    ]
    return {
        **context,
        "changes": changes,
        "latest_run": proposal.test_runs.first(),
        "attempts": attempts,
        "reviews": proposal.reviews.select_related("reviewer").order_by("-created_at"),
    }


@login_required
@require_GET
def proposal_list(request: HttpRequest) -> HttpResponse:
    filters = ProposalFilterForm(request.GET or None, user=request.user)
    proposals = Proposal.objects.filter(project__in=projects_for(request.user)).select_related(
        "project"
    )
    if filters.is_valid():
        if filters.cleaned_data["project"]:
            proposals = proposals.filter(project=filters.cleaned_data["project"])
        if filters.cleaned_data["status"]:
            proposals = proposals.filter(status=filters.cleaned_data["status"])
    page = Paginator(proposals, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"nav": "proposals", "filters": filters, "page": page}
    if request.htmx and request.htmx.target == "proposal-table":
        return render(request, "proposals/_proposal_table.html", context)
    return render(request, "proposals/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def proposal_create(request: HttpRequest) -> HttpResponse:
    data, uploads = (request.POST, request.FILES) if request.method == "POST" else (None, None)
    form = ProposalForm(data, user=request.user)
    changes = ChangeFormSet(data, uploads, prefix="changes")
    if request.method == "POST" and form.is_valid() and changes.is_valid():
        try:
            proposal = services.create_proposal(
                form.cleaned_data["project"],
                form.cleaned_data["title"],
                changes.changes(),
                description=form.cleaned_data["description"],
                created_by=request.user,
                source="ui",
            )
        except services.BadProposal as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Proposal #{proposal.pk} created.")
            return redirect("proposals:detail", pk=proposal.pk)
    status = 400 if request.method == "POST" else 200
    context = {"nav": "proposals", "form": form, "changes": changes}
    return render(request, "proposals/new.html", context, status=status)


@login_required
@require_GET
def proposal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = _visible_proposal(request, pk)
    return render(
        request, "proposals/detail.html", _detail_context(request, proposal, _since(request))
    )


@login_required
@require_GET
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live progress box; it polls itself while a task works on the proposal."""
    proposal = _visible_proposal(request, pk)
    context = _detail_context(request, proposal, _since(request))
    if not request.htmx:
        return render(request, "proposals/detail.html", context)
    return render(request, "proposals/_progress_response.html", context)


def _refuse(request: HttpRequest, proposal: Proposal, message: str) -> HttpResponse:
    """An action that can't be done now: said where the user is looking, never a 500."""
    if request.htmx:
        context = {**_detail_context(request, proposal), "error": message}
        return render(request, "proposals/_progress_response.html", context)
    messages.error(request, message)
    return redirect("proposals:detail", pk=proposal.pk)


def _enqueue(task, proposal_id: int) -> str:
    """Send the task once the current transaction commits; an unreachable broker is an error
    message, not a 500."""
    failed: list[str] = []

    def send() -> None:
        try:
            task.delay(proposal_id)
        except Exception as exc:  # noqa: BLE001 - reported to the user, the proposal is unchanged
            logger.exception("could not queue %s for proposal %s", task.name, proposal_id)
            failed.append(f"The task could not be queued ({type(exc).__name__}); try again.")

    transaction.on_commit(send)
    return failed[0] if failed else ""


def _start_task(
    request: HttpRequest, proposal: Proposal, task, queued_message: str
) -> HttpResponse:
    error = _enqueue(task, proposal.pk)
    if error:
        return _refuse(request, proposal, error)
    since = _micros(proposal)
    if not request.htmx:
        messages.info(request, queued_message)
        return redirect(f"{reverse('proposals:progress', args=[proposal.pk])}?since={since}")
    proposal.refresh_from_db()
    context = _detail_context(request, proposal, since)
    return render(request, "proposals/_progress_response.html", context)


@login_required
@require_POST
def auto_fix(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue the auto-fix loop (it never runs in the request) and answer with the progress box."""
    proposal = _visible_proposal(request, pk)
    if not _can_review(request, proposal):
        return _refuse(request, proposal, "Auto-fix needs the reviewer role in this project.")
    if not proposal.needs_auto_fix:
        return _refuse(
            request,
            proposal,
            f"Proposal #{proposal.pk} is {proposal.status}; auto-fix starts only from "
            "tests_failed, unfixable or needs_review.",
        )
    return _start_task(request, proposal, tasks.auto_fix, "Auto-fix queued.")


@login_required
@require_POST
def deploy(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a deploy to the sandbox and a test run."""
    proposal = _visible_proposal(request, pk)
    if not _can_review(request, proposal):
        return _refuse(request, proposal, "Deploying needs the reviewer role in this project.")
    if proposal.in_progress or not proposal.can_transition_to(ProposalStatus.SANDBOX_DEPLOYED):
        return _refuse(
            request,
            proposal,
            f"Proposal #{proposal.pk} is {proposal.status} and cannot be deployed now.",
        )
    return _start_task(request, proposal, tasks.deploy_and_test, "Deploy and test queued.")


def _review(request: HttpRequest, pk: int, decide, done: str) -> HttpResponse:
    proposal = _visible_proposal(request, pk)
    note = request.POST.get("note", "").strip()
    try:
        decide(proposal.pk, request.user, note)
    except (services.WrongState, AccessDenied, ProjectNotFound) as exc:
        messages.error(request, str(exc))
    except project_files.BadFiles as exc:
        messages.error(request, f"The proposal could not be applied: {exc}")
    else:
        messages.success(request, done.format(pk=proposal.pk))
    return redirect("proposals:detail", pk=proposal.pk)


@login_required
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _review(request, pk, services.approve, "Proposal #{pk} approved and applied.")


@login_required
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _review(request, pk, services.reject, "Proposal #{pk} rejected.")
