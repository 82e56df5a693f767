"""Thin Celery wrapper around the healing scan; it runs on the `sandbox` queue (it runs tests)."""

from celery import shared_task

from . import services


@shared_task(name="dashboard.tasks.run_healing_scan")
def run_healing_scan(scan_id: int) -> dict:
    scan = services.run_scan(scan_id)
    if scan is None:
        return {"scan_id": scan_id, "ran": False}
    return {"scan_id": scan_id, "ran": True, "status": scan.status, "counts": scan.counts}
