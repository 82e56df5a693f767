"""Every recurring healing cycle, as django-celery-beat entries that exist after `migrate`.

Entries are created once (post_migrate) and then belong to the operator: an interval or an
enabled flag changed in the admin is never overwritten by a later migrate.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class BeatEntry:
    name: str
    task: str
    every_seconds: int
    description: str


BEAT_SCHEDULE: tuple[BeatEntry, ...] = (
    BeatEntry("Error scan & auto-fix", "monitoring.tasks.scan_errors", 60,
              "Group pending events and open repair proposals for new error groups."),
    BeatEntry("Job detection (stuck / failed / slow)", "monitoring.tasks.detect_job_problems", 60,
              "Find stuck, failed and slow jobs and run their healing actions."),
    BeatEntry("Deployment health", "monitoring.tasks.check_deployments", 120,
              "Correlate new error groups with deployments and mark them healthy / suspect / bad."),
    BeatEntry("Stuck auto-fix recovery", "proposals.tasks.recover_stuck_auto_fixes", 60,
              "Fail auto-fix attempts stuck past their limit cleanly and retry them once."),
    BeatEntry("Pattern decay", "patterns.tasks.decay_patterns", 6 * 3600,
              "Deprecate patterns unused for too long or below the confidence floor."),
    BeatEntry("Contextual threshold update", "patterns.tasks.update_contextual_thresholds", 300,
              "Raise the effective auto-apply threshold in quiet hours and under load."),
    BeatEntry("Quality checks", "patterns.tasks.quality_checks", 3600,
              "Check fix variants and rollouts; roll back steps that regress."),
    BeatEntry("Weekly self-improvement", "patterns.tasks.self_improvement", 7 * 24 * 3600,
              "Calibrate confidence and optimise auto-apply thresholds."),
    BeatEntry("Alerting", "monitoring.tasks.evaluate_alerts", 60,
              "Raise, deduplicate and resolve alerts; deliver them by e-mail and webhook."),
)  # fmt: skip


def ensure_beat_entries(**kwargs) -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for entry in BEAT_SCHEDULE:
        if PeriodicTask.objects.filter(name=entry.name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=entry.every_seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.create(
            name=entry.name, task=entry.task, interval=interval, description=entry.description
        )
