"""Across processes: events accepted over HTTP are grouped by a real Celery worker."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from monitoring.models import ErrorEvent, ErrorGroup

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(transactional_db):
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://...")
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(
        "celery"
    )  # stale messages of earlier tests
    name = connection.settings_dict["NAME"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{connection.settings_dict['USER']}@{connection.settings_dict['HOST']}:"
        f"{connection.settings_dict['PORT']}/{name}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "selfheal", "worker", "-Q", "celery", "--pool=solo",
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(condition, timeout=45.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.worker
def test_events_are_grouped_by_a_real_worker(worker, client, project):
    auth = {"HTTP_X_SENTRY_AUTH": f"Sentry sentry_key={project.public_key}, sentry_version=7"}
    for i in range(12):
        function = "checkout" if i % 3 else "refund"
        event = {
            "event_id": uuid.uuid4().hex,
            "exception": {"values": [{"type": "ValueError", "value": f"order {i} is invalid",
                                      "stacktrace": {"frames": [{"filename": "shop/orders.py", "module": "shop.orders",
                                                                 "function": function, "lineno": 10 + i, "in_app": True}]}}]},
        }  # fmt: skip
        body = b"{}\n" + json.dumps({"type": "event"}).encode() + b"\n" + json.dumps(event).encode()
        response = client.post(
            f"/api/{project.pk}/envelope/",
            data=body,
            content_type="application/x-sentry-envelope",
            **auth,
        )
        assert response.status_code == 200
    assert (
        ErrorEvent.objects.filter(project=project, group__isnull=True).count() == 12
    )  # not in the request

    grouped = wait_for(lambda: not ErrorEvent.objects.filter(group__isnull=True).exists())
    if not grouped:
        worker.terminate()
        pytest.fail(
            "the worker did not group the events:\n"
            + worker.communicate(timeout=10)[0].decode()[-3000:]
        )
    counts = sorted(ErrorGroup.objects.filter(project=project).values_list("count", flat=True))
    assert counts == [4, 8]
