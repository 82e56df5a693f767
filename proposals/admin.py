"""Admin for healing: project files with their history, proposals with their changes, test runs and
fix attempts, and the review queue (proposals waiting for a person) with approve / reject.

Everything here is read-only except decisions, which go through the services like everywhere else."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from selfheal.services import AccessDenied, ProjectNotFound, projects_for

from . import files as project_files
from . import services
from .models import (
    FixAttempt,
    ProjectFile,
    ProjectFileVersion,
    Proposal,
    ProposalChange,
    ProposalStatus,
    Review,
    TestRun,
)
from .views import change_diff, diff_lines

REVIEW_QUEUE = [ProposalStatus.TESTS_PASSED, ProposalStatus.NEEDS_REVIEW]
DIFF_COLOURS = {
    "add": "#1a7f37",
    "del": "#c62828",
    "hunk": "#1f5fbf",
    "file": "#6b7385",
    "": "inherit",
}
PRE_STYLE = "white-space:pre;overflow:auto;max-height:360px;font:12px/1.45 monospace;margin:0"


def diff_html(diff: str) -> str:
    if not diff:
        return "—"
    lines = format_html_join(
        "\n",
        '<span style="color:{}">{}</span>',
        ((DIFF_COLOURS[css], line) for css, line in diff_lines(diff)),
    )
    return format_html('<pre style="{}">{}</pre>', PRE_STYLE, lines)


class ReadOnlyInlineMixin:
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyInline(ReadOnlyInlineMixin, admin.StackedInline):
    pass


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only services change: visible, never edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ProjectFileVersionInline(ReadOnlyInline):
    model = ProjectFileVersion
    fields = ["version", "source", "deleted", "tests_passed", "created_at", "content_block"]
    readonly_fields = fields

    @admin.display(description="Content")
    def content_block(self, obj: ProjectFileVersion) -> str:
        return format_html('<pre style="{}">{}</pre>', PRE_STYLE, obj.content)


@admin.register(ProjectFile)
class ProjectFileAdmin(ReadOnlyAdmin):
    list_display = ["path", "project", "version", "deleted", "updated_at"]
    list_filter = ["project", "deleted"]
    search_fields = ["path", "project__slug"]
    fields = ["project", "path", "version", "deleted", "updated_at", "content_block"]
    readonly_fields = fields
    inlines = [ProjectFileVersionInline]

    @admin.display(description="Content")
    def content_block(self, obj: ProjectFile) -> str:
        return format_html('<pre style="{}">{}</pre>', PRE_STYLE, obj.content)


class ProposalChangeInline(ReadOnlyInline):
    model = ProposalChange
    fields = ["path", "action", "origin", "diff_against_project"]
    readonly_fields = fields

    @admin.display(description="Diff against the project's current file")
    def diff_against_project(self, obj: ProposalChange) -> str:
        current = project_files.current_files(obj.proposal.project).get(obj.path, "")
        after = "" if obj.action == "delete" else obj.content
        return diff_html(change_diff(obj.path, current, after))


class TestRunInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = TestRun
    fields = ["created_at", "passed", "tests_passed", "tests_failed", "tests_errored",
              "timed_out", "exit_code", "isolation", "duration", "failed_tests"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Failed tests")
    def failed_tests(self, obj: TestRun) -> str:
        return ", ".join(obj.failed_names) or "—"


class FixAttemptInline(ReadOnlyInline):
    model = FixAttempt
    fields = ["number", "strategy", "rule", "outcome", "confidence", "security_verdict",
              "security_review", "root_cause", "explanation", "diff_block", "duration"]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="Security reasons")
    def security_review(self, obj: FixAttempt) -> str:
        return format_html_join("", "<div>{}</div>", ((r,) for r in obj.security_reasons)) or "—"

    @admin.display(description="Root cause")
    def root_cause(self, obj: FixAttempt) -> str:
        return obj.analysis.get("root_cause", "") or "—"

    @admin.display(description="Diff")
    def diff_block(self, obj: FixAttempt) -> str:
        return diff_html(obj.diff)


class ReviewInline(ReadOnlyInline):
    model = Review
    fields = ["decision", "reviewer", "automatic", "note", "created_at"]
    readonly_fields = fields


def decide(request: HttpRequest, proposals, approve: bool, note: str = "") -> None:
    """Approve or reject each proposal as `request.user`; refused ones are reported, not raised."""
    decide_one = services.approve if approve else services.reject
    done, refused = [], []
    for proposal in proposals:
        try:
            decide_one(proposal.pk, request.user, note)
        except (services.WrongState, AccessDenied, ProjectNotFound, project_files.BadFiles) as exc:
            refused.append(f"#{proposal.pk}: {exc}")
        else:
            done.append(f"#{proposal.pk}")
    verb = "approved and applied" if approve else "rejected"
    if done:
        messages.success(request, f"{len(done)} proposal(s) {verb}: {', '.join(done)}.")
    for reason in refused:
        messages.error(request, f"Refused {reason}")


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = ["id", "title", "project", "status", "source", "created_at"]
    list_filter = ["status", "project", "source"]
    search_fields = ["title", "description"]
    fields = ["project", "title", "description", "status", "status_reason", "stage", "source",
              "created_by", "error_group_id", "created_at", "updated_at"]  # fmt: skip
    readonly_fields = fields
    inlines = [ProposalChangeInline, FixAttemptInline, TestRunInline, ReviewInline]
    actions = ["approve_selected", "reject_selected"]
    change_list_template = "proposals/admin/proposal_change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Proposal]:
        return super().get_queryset(request).filter(project__in=projects_for(request.user))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser

    @admin.action(description="Approve and apply the selected proposals")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Proposal]) -> None:
        decide(request, queryset.order_by("pk"), approve=True)

    @admin.action(description="Reject the selected proposals")
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Proposal]) -> None:
        decide(request, queryset.order_by("pk"), approve=False)

    def get_urls(self) -> list:
        queue = self.admin_site.admin_view(self.review_queue_view)
        return [path("review-queue/", queue, name="proposals_review_queue"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        waiting = self.get_queryset(request).filter(status__in=REVIEW_QUEUE).count()
        return super().changelist_view(
            request, {**(extra_context or {}), "review_queue_count": waiting}
        )

    def review_queue_view(self, request: HttpRequest) -> HttpResponse:
        """Proposals waiting for a person, with their fixes' diff, confidence and security verdict."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        waiting = (
            self.get_queryset(request)
            .filter(status__in=REVIEW_QUEUE)
            .select_related("project")
            .order_by("created_at")
        )
        if request.method == "POST":
            chosen = waiting.filter(pk__in=request.POST.getlist("proposal"))
            decision = request.POST.get("decision")
            if decision not in ("approve", "reject"):
                messages.error(request, "Choose approve or reject.")
            elif not chosen:
                messages.error(request, "Select at least one proposal waiting for review.")
            else:
                decide(request, chosen, approve=decision == "approve",
                       note=request.POST.get("note", "").strip())  # fmt: skip
            return HttpResponseRedirect(reverse("admin:proposals_review_queue"))
        items = []
        for proposal in waiting:
            fixes = [
                {"attempt": a, "diff": diff_html(a.diff)}
                for a in proposal.attempts.exclude(diff="").order_by("number")
            ]
            current = project_files.current_files(proposal.project)
            changes = [
                {"change": c, "diff": diff_html(change_diff(
                    c.path, current.get(c.path, ""), "" if c.action == "delete" else c.content))}
                for c in proposal.changes.all()
            ]  # fmt: skip
            items.append({"proposal": proposal, "fixes": fixes, "changes": changes})
        context = {
            **self.admin_site.each_context(request),
            "title": "Review queue",
            "opts": self.model._meta,
            "items": items,
        }
        return TemplateResponse(request, "proposals/admin/review_queue.html", context)
