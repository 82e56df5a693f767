"""The self-improvement page: the latest report (or the one asked for) and the earlier runs."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from .models import ImprovementRun
from .services import run_self_improvement

RUNS_LISTED = 12


@login_required
@require_GET
def improvement(request: HttpRequest) -> HttpResponse:
    runs = list(ImprovementRun.objects.order_by("-started_at", "-pk")[:RUNS_LISTED])
    run_id = request.GET.get("run", "")
    if run_id.isdigit():
        run = get_object_or_404(ImprovementRun, pk=int(run_id))
    else:
        run = runs[0] if runs else None
    return render(
        request, "patterns/improvement.html", {"nav": "dashboard", "run": run, "runs": runs}
    )


@login_required
@require_POST
def run_improvement(request: HttpRequest) -> HttpResponse:
    # Thresholds may change for every project whose policy says so: staff only.
    if not request.user.is_staff:
        raise PermissionDenied("Only staff may run the self-improvement cycle.")
    run = run_self_improvement(trigger="page")
    messages.success(request, f"Self-improvement run #{run.pk} done.")
    return redirect(f"{reverse('patterns:improvement')}?run={run.pk}")
