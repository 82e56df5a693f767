"""Screens: error groups, a group's page, jobs, deployments. Login required; only your projects."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from selfheal.engine.classify import CATEGORIES
from selfheal.models import Role
from selfheal.services import AccessDenied, ProjectNotFound, projects_for, require_role

from . import charts, errors
from .dsn import dsn_for
from .grouping import report_from_payload
from .jobs import ping_url
from .models import (
    Alert,
    AlertStatus,
    Deployment,
    ErrorGroup,
    ErrorGroupStatus,
    IllegalTransition,
    Job,
)


def _group_or_404(request: HttpRequest, group_id: int) -> ErrorGroup:
    try:
        return errors.group_for(request.user, group_id)
    except ErrorGroup.DoesNotExist:
        raise Http404("No such error group.") from None


@login_required
def error_list(request: HttpRequest) -> HttpResponse:
    filters = {key: request.GET.get(key, "") for key in ("project", "category", "status")}
    groups = errors.groups_for(request.user, **filters)
    page = Paginator(groups, 50).get_page(request.GET.get("page"))
    projects = list(projects_for(request.user))
    context = {
        "nav": "errors", "page": page, "filters": filters, "projects": projects,
        "dsns": [(project, dsn_for(project)) for project in projects],
        "categories": CATEGORIES, "statuses": ErrorGroupStatus.choices,
        "open_alerts": Alert.objects.filter(project__in=projects, status=AlertStatus.OPEN)[:20],
    }  # fmt: skip
    template = "monitoring/_error_rows.html" if request.htmx else "monitoring/error_list.html"
    return render(request, template, context)


@login_required
def error_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_or_404(request, group_id)
    event = errors.latest_event(group)
    report = None
    if event is not None:
        report = report_from_payload(event.payload)
    buckets = errors.occurrences(group)
    label = "%H:%M" if len(buckets) == 24 else "%b %d"
    return render(
        request,
        "monitoring/error_detail.html",
        {
            "nav": "errors", "group": group, "event": event, "report": report,
            "chart": charts.bar_chart(buckets, label_format=label),
            "allowed": sorted(group.TRANSITIONS[group.status]),
            "can_repair": ErrorGroupStatus.HEALING in group.TRANSITIONS[group.status],
        },
    )  # fmt: skip


def _require_reviewer(request: HttpRequest, group: ErrorGroup) -> None:
    try:
        require_role(request.user, group.project, Role.REVIEWER)
    except (AccessDenied, ProjectNotFound) as exc:
        raise PermissionError(str(exc)) from exc


@login_required
@require_POST
def error_status(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_or_404(request, group_id)
    try:
        _require_reviewer(request, group)
        errors.set_group_status(group, request.POST.get("status", ""))
        messages.success(request, "Status changed.")
    except (PermissionError, IllegalTransition) as exc:
        messages.error(request, str(exc))
    return redirect("monitoring:error", group_id=group.pk)


@login_required
@require_POST
def error_repair(request: HttpRequest, group_id: int) -> HttpResponse:
    group = _group_or_404(request, group_id)
    try:
        _require_reviewer(request, group)
        errors.request_repair(group)
        messages.success(
            request,
            "A repair proposal is being opened with this error's context; the group is healing.",
        )
    except (PermissionError, IllegalTransition) as exc:
        messages.error(request, str(exc))
    except Exception:  # noqa: BLE001 - the broker is down: say so, change nothing
        messages.error(request, "Could not reach the task queue; nothing was changed. Try again.")
    return redirect("monitoring:error", group_id=group.pk)


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    projects = projects_for(request.user)
    jobs = Job.objects.filter(project__in=projects).select_related("project")
    project = request.GET.get("project", "")
    if project:
        jobs = jobs.filter(project__slug=project)
    rows = [(job, ping_url(job), job.runs.order_by("-last_activity_at").first()) for job in jobs]
    return render(
        request,
        "monitoring/job_list.html",
        {"nav": "jobs", "rows": rows, "projects": projects, "project": project},
    )


@login_required
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = Job.objects.filter(pk=job_id, project__in=projects_for(request.user)).first()
    if job is None:
        raise Http404("No such job.")
    return render(
        request,
        "monitoring/job_detail.html",
        {
            "nav": "jobs", "job": job, "ping_url": ping_url(job),
            "runs": job.runs.order_by("-last_activity_at")[:30],
            "pings": job.pings.order_by("-created_at")[:30],
            "actions": job.healing_actions.select_related("run")[:30],
        },
    )  # fmt: skip


@login_required
def deployment_list(request: HttpRequest) -> HttpResponse:
    projects = projects_for(request.user)
    deployments = Deployment.objects.filter(project__in=projects).select_related("project")
    project = request.GET.get("project", "")
    if project:
        deployments = deployments.filter(project__slug=project)
    page = Paginator(deployments.prefetch_related("rollbacks", "error_groups"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "monitoring/deployment_list.html",
        {"nav": "deployments", "page": page, "projects": projects, "project": project},
    )
