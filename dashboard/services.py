"""Healing scans: requested from the dashboard or the API, run by a Celery task that reports its
progress on the scan row. The only place that changes HealingScan rows.

A scan does, now, what the beat entries and a reviewer would do over the next minutes:
group pending error events, open repair proposals for new error groups, run the jobs' healing
actions, deploy and test the proposals still `proposed`, and auto-fix the ones in `tests_failed`.
Grouping, repair requests and job checks are service-wide (as in the beat); the proposals it tests
and fixes are those of the projects the requester reviews.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from monitoring import errors as monitoring_errors
from monitoring import grouping, jobs
from monitoring.models import ErrorGroup, Job
from proposals import autofix
from proposals import services as proposal_services
from proposals.models import IllegalTransition, Proposal, ProposalStatus
from selfheal.models import Project, Role, StoppingPoint
from selfheal.services import AccessDenied, projects_for

from .models import ACTIVE_SCAN_STATUSES, HealingScan, ScanMode, ScanStatus

logger = logging.getLogger(__name__)

SCAN_TASK = "dashboard.tasks.run_healing_scan"
SCAN_QUEUE = "sandbox"  # it runs test suites, like the proposals tasks
MAX_DEPLOYS_PER_SCAN = 10
MAX_FIXES_PER_SCAN = 5
FIXED_STEPS = 3  # grouping, repair requests, job checks


class BadScanRequest(ValueError):
    """A scan that cannot be started as asked; the message says why."""


def stale_after() -> timedelta:
    """A scan whose task has not reported for this long died with its worker."""
    return timedelta(seconds=settings.AUTO_FIX_STALE_SECONDS)


def reviewed_project_ids(user: AbstractBaseUser, project: Project | None = None) -> list[int]:
    """The projects whose proposals the user may have tested and fixed (reviewer role or more)."""
    projects = projects_for(user)
    if project is not None:
        projects = projects.filter(pk=project.pk)
    if not user.is_superuser:
        roles = [Role.REVIEWER, Role.ADMIN]
        projects = projects.filter(memberships__user=user, memberships__role__in=roles)
    return sorted(set(projects.values_list("pk", flat=True)))


def scans_for(user: AbstractBaseUser):
    """Scans the user may look at: their own, and those of the projects they see."""
    return HealingScan.objects.filter(
        Q(requested_by=user) | Q(project__in=projects_for(user))
    ).select_related("project", "job")


def expire_stale_scans(now: datetime | None = None) -> int:
    """Fail the scans whose worker stopped reporting, so they don't block the next one."""
    now = now or timezone.now()
    limit = now - stale_after()
    stale = HealingScan.objects.filter(
        Q(status=ScanStatus.RUNNING, heartbeat_at__lt=limit)
        | Q(status=ScanStatus.QUEUED, created_at__lt=limit)
    )
    return stale.update(
        status=ScanStatus.FAILED,
        finished_at=now,
        error="The worker running this scan stopped responding; start a new one.",
    )


def request_scan(
    user: AbstractBaseUser,
    mode: str = ScanMode.AUTO,
    *,
    project: Project | None = None,
    job: Job | None = None,
) -> tuple[HealingScan, bool]:
    """Queue a scan (the task runs it); (scan, created). A scan of the same scope that is still
    queued or running is returned instead of starting a second one.

    `job`: a job of the user's (say, one whose run just failed) whose project is to be healed."""
    if mode not in ScanMode.values:
        raise BadScanRequest(f"Unknown mode {mode!r}; choose one of: {', '.join(ScanMode.values)}.")
    if job is not None:
        if project is not None and project.pk != job.project_id:
            raise BadScanRequest(f"Job {job.pk} does not belong to project {project.slug!r}.")
        project = job.project
    project_ids = reviewed_project_ids(user, project)
    if not project_ids:
        where = f"project {project.slug!r}" if project else "any of your projects"
        raise AccessDenied(f"A healing scan needs the reviewer role in {where}.")
    expire_stale_scans()
    with transaction.atomic():
        # One scan at a time per scope: two clicks, or a click and an API call, share one.
        list(Project.objects.select_for_update().filter(pk__in=project_ids).values_list("pk"))
        running = HealingScan.objects.filter(
            status__in=ACTIVE_SCAN_STATUSES, mode=mode, project=project, project_ids=project_ids
        ).first()
        if running is not None:
            return running, False
        scan = HealingScan.objects.create(
            mode=mode, project=project, job=job, requested_by=user, project_ids=project_ids,
            stage="Waiting for a worker",
        )  # fmt: skip
        transaction.on_commit(lambda: _send(scan.pk))
    scan.refresh_from_db()
    return scan, True


def _send(scan_id: int) -> None:
    try:
        current_app.send_task(SCAN_TASK, args=[scan_id], queue=SCAN_QUEUE, retry=False)
    except Exception as exc:  # noqa: BLE001 - the scan says it could not be queued; nothing lost
        logger.exception("could not queue healing scan %s", scan_id)
        HealingScan.objects.filter(pk=scan_id, status=ScanStatus.QUEUED).update(
            status=ScanStatus.FAILED,
            finished_at=timezone.now(),
            error=f"The scan could not be queued ({type(exc).__name__}); try again.",
        )


# --- running ------------------------------------------------------------------------------------


def _begin(scan_id: int, now: datetime) -> HealingScan | None:
    with transaction.atomic():
        scan = HealingScan.objects.select_for_update().filter(pk=scan_id).first()
        if scan is None or scan.status != ScanStatus.QUEUED:
            return None  # gone, or a redelivered task of a scan already run
        scan.transition_to(ScanStatus.RUNNING)
        scan.started_at = scan.heartbeat_at = now
        scan.stage = "Starting"
        scan.save()
        return scan


def _finish(scan: HealingScan, status: str, error: str = "") -> None:
    with transaction.atomic():
        row = HealingScan.objects.select_for_update().get(pk=scan.pk)
        row.transition_to(status)
        row.progress = 1.0 if status == ScanStatus.SUCCEEDED else row.progress
        row.stage = "Finished" if status == ScanStatus.SUCCEEDED else "Failed"
        row.counts, row.error = scan.counts, error
        row.finished_at = row.heartbeat_at = timezone.now()
        row.save()


class ScanRun:
    """Does the scan's steps and writes its progress, stage and counts after each one."""

    def __init__(self, scan: HealingScan, now: datetime):
        self.scan = scan
        self.now = now
        self.ids = scan.project_ids
        self.done = 0
        self.total = FIXED_STEPS
        scan.counts = {
            "events_grouped": 0, "repairs_requested": 0, "job_problems": 0,
            "deployed": 0, "tests_passed": 0, "tests_failed": 0,
            "auto_fix_runs": 0, "healed": 0, "not_healed": 0, "auto_applied": 0,
            "skipped": 0, "errors": 0,
        }  # fmt: skip

    def report(self, stage: str, step_done: bool = False) -> None:
        if step_done:
            self.done += 1
        progress = max(self.scan.progress, min(self.done / self.total, 0.99))
        self.scan.progress, self.scan.stage = progress, stage[:200]
        HealingScan.objects.filter(pk=self.scan.pk).update(
            progress=progress, stage=self.scan.stage, counts=self.scan.counts,
            heartbeat_at=timezone.now(),
        )  # fmt: skip

    def count(self, key: str, n: int = 1) -> None:
        self.scan.counts[key] += n

    def run(self) -> None:
        self.report("Grouping pending error events")
        self.count("events_grouped", grouping.group_pending_events())
        self.report("Opening repair proposals for new error groups", step_done=True)
        requested = monitoring_errors.request_repairs_for_new_groups(self.now)
        self.count(
            "repairs_requested",
            ErrorGroup.objects.filter(pk__in=requested, project_id__in=self.ids).count(),
        )
        self.report("Checking jobs for stuck, failed and slow runs", step_done=True)
        detections = jobs.detect_job_problems(self.now)
        job_ids = {d.job_id for d in detections}
        in_scope = Job.objects.filter(pk__in=job_ids, project_id__in=self.ids)
        if self.scan.job_id:
            in_scope = in_scope.filter(pk=self.scan.job_id)
        scoped = set(in_scope.values_list("pk", flat=True))
        self.count("job_problems", sum(1 for d in detections if d.job_id in scoped))
        self.done += 1

        proposed = self._proposals(ProposalStatus.PROPOSED, MAX_DEPLOYS_PER_SCAN)
        self.total += len(proposed)
        for n, proposal_id in enumerate(proposed, 1):
            self.report(f"Testing proposal #{proposal_id} in the sandbox ({n} of {len(proposed)})")
            self._deploy(proposal_id)
            self.done += 1

        failing = self._proposals(ProposalStatus.TESTS_FAILED, MAX_FIXES_PER_SCAN, fixable=True)
        self.total += len(failing)
        for n, proposal_id in enumerate(failing, 1):
            self.report(f"Auto-fixing proposal #{proposal_id} ({n} of {len(failing)})")
            self._auto_fix(proposal_id)
            self.done += 1
        self.report("Finishing")

    def _proposals(self, status: str, limit: int, fixable: bool = False) -> list[int]:
        proposals = Proposal.objects.filter(project_id__in=self.ids, status=status)
        if fixable:  # an analyse-only project gets no fixes generated
            proposals = proposals.exclude(project__stopping_point=StoppingPoint.ANALYSE_ONLY)
        return list(proposals.order_by("updated_at", "pk").values_list("pk", flat=True)[:limit])

    def _guarded(self, what: str, proposal_id: int, work: Callable[[], None]) -> None:
        try:
            work()
        except (IllegalTransition, autofix.CannotAutoFix) as exc:  # another worker took it
            logger.info("scan %s skipped proposal %s: %s", self.scan.pk, proposal_id, exc)
            self.count("skipped")
        except Exception:  # noqa: BLE001 - one broken proposal must not end the scan
            logger.exception("scan %s could not %s proposal %s", self.scan.pk, what, proposal_id)
            self.count("errors")

    def _deploy(self, proposal_id: int) -> None:
        def work() -> None:
            run = proposal_services.deploy_and_test(proposal_id)
            self.count("deployed")
            self.count("tests_passed" if run.passed else "tests_failed")

        self._guarded("test", proposal_id, work)

    def _auto_fix(self, proposal_id: int) -> None:
        def work() -> None:
            result = autofix.run_auto_fix(proposal_id)
            self.count("auto_fix_runs")
            self.count("healed" if result.success else "not_healed")
            if result.auto_applied:
                self.count("auto_applied")

        self._guarded("auto-fix", proposal_id, work)


def run_scan(scan_id: int, now: datetime | None = None) -> HealingScan | None:
    """Run a queued scan to the end; a failure is recorded on the scan, never lost."""
    now = now or timezone.now()
    scan = _begin(scan_id, now)
    if scan is None:
        return None
    try:
        ScanRun(scan, now).run()
    except Exception as exc:
        logger.exception("healing scan %s failed", scan_id)
        _finish(scan, ScanStatus.FAILED, f"{type(exc).__name__}: {exc}")
    else:
        _finish(scan, ScanStatus.SUCCEEDED)
    scan.refresh_from_db()
    return scan
