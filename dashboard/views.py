"""The /self-healing page and its HTMX parts. Every part is also served on its own URL, so the page
refreshes each one on its own schedule; a reload shows the same thing."""

from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from selfheal.services import AccessDenied, ProjectNotFound

from . import charts, queries, services
from .models import HealingScan, ScanMode
from .queries import Scope

SCAN_FINISHED_EVENT = "healing-scan-finished"
COUNT_LABELS = [
    ("events_grouped", "events grouped"),
    ("repairs_requested", "repair proposals opened"),
    ("job_problems", "job problems found"),
    ("deployed", "proposals tested"),
    ("tests_passed", "passed"),
    ("tests_failed", "failed"),
    ("auto_fix_runs", "auto-fix runs"),
    ("healed", "healed"),
    ("not_healed", "not healed"),
    ("auto_applied", "auto-applied"),
    ("skipped", "skipped (taken by another worker)"),
    ("errors", "errors"),
]


def _scope(request: HttpRequest, project_ref: str | None = None) -> Scope:
    ref = request.GET.get("project", "") if project_ref is None else project_ref
    try:
        return queries.scope_for(request.user, ref or None)
    except ProjectNotFound:
        raise Http404("No such project among yours.") from None


def _numbers(scope: Scope) -> dict:
    return {"headline": queries.headline(scope, timezone.now())}


def _actions(scope: Scope) -> dict:
    return {"actions": queries.recent_actions(scope)}


def _alerts(scope: Scope) -> dict:
    return {"alerts": queries.open_alerts(scope)}


def _breakers(scope: Scope) -> dict:
    return {"breakers": queries.breakers()}


def _patterns(scope: Scope) -> dict:
    return {"patterns": queries.learned_patterns(scope)}


def _experiments(scope: Scope) -> dict:
    return {"experiments": queries.running_experiments(scope)}


def _charts(scope: Scope) -> dict:
    points = queries.healing_by_day(scope, timezone.now())
    return {
        "heals_chart": charts.heals_chart(points),
        "rate_chart": charts.success_rate_chart(points),
        "days": len(points),
        "healed_in_window": sum(p.healed for p in points),
        "runs_in_window": sum(p.runs for p in points),
    }


PARTS: dict[str, Callable[[Scope], dict]] = {
    "numbers": _numbers,
    "actions": _actions,
    "alerts": _alerts,
    "breakers": _breakers,
    "patterns": _patterns,
    "experiments": _experiments,
    "charts": _charts,
}


def _scan_context(request: HttpRequest, scope: Scope, scan: HealingScan | None) -> dict:
    counts = scan.counts if scan else {}
    return {
        "scope": scope,
        "scan": scan,
        "scan_counts": [(label, counts[key]) for key, label in COUNT_LABELS if counts.get(key)],
        "can_scan": bool(services.reviewed_project_ids(request.user, scope.project)),
    }


def _latest_scan(request: HttpRequest, scope: Scope) -> HealingScan | None:
    return services.scans_for(request.user).filter(project=scope.project).first()


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    context = {"nav": "dashboard", "scope": scope}
    for part in PARTS.values():
        context.update(part(scope))
    context.update(_scan_context(request, scope, _latest_scan(request, scope)))
    return render(request, "dashboard/index.html", context)


@login_required
@require_GET
def part(request: HttpRequest, name: str) -> HttpResponse:
    if name not in PARTS:
        raise Http404("No such part of the dashboard.")
    scope = _scope(request)
    return render(request, f"dashboard/_{name}.html", {"scope": scope, **PARTS[name](scope)})


def _back_to_dashboard(scope: Scope) -> HttpResponse:
    url = reverse("dashboard:index")
    return redirect(f"{url}?project={scope.slug}" if scope.slug else url)


@login_required
@require_POST
def start_scan(request: HttpRequest) -> HttpResponse:
    """Queue a healing scan (it never runs in the request) and answer with its progress box."""
    scope = _scope(request, request.POST.get("project", ""))
    error = ""
    try:
        scan, _ = services.request_scan(
            request.user, request.POST.get("mode", ScanMode.AUTO), project=scope.project
        )
    except (services.BadScanRequest, AccessDenied) as exc:
        scan, error = _latest_scan(request, scope), str(exc)
    if not request.htmx:
        return _back_to_dashboard(scope)
    context = {**_scan_context(request, scope, scan), "error": error}
    return render(request, "dashboard/_scan.html", context, status=400 if error else 200)


@login_required
@require_GET
def scan_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The scan's progress box; it polls itself while the scan is queued or running."""
    scope = _scope(request)
    services.expire_stale_scans()
    scan = services.scans_for(request.user).filter(pk=pk).first()
    if scan is None:
        raise Http404("No such healing scan.")
    if not request.htmx:
        return _back_to_dashboard(scope)
    response = render(request, "dashboard/_scan.html", _scan_context(request, scope, scan))
    if not scan.is_active:
        response["HX-Trigger"] = SCAN_FINISHED_EVENT  # the lists refresh at once
    return response
