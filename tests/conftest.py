import pytest
from django.contrib.auth import get_user_model

from selfheal import services

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """The default hasher costs about a second per user on these machines; tests need no strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("mallory", "mallory@example.com", "pw-mallory-123")


@pytest.fixture
def project(user):
    return services.create_project(user, "Calculator")


@pytest.fixture
def api_key(user):
    _, raw = services.create_api_key(user, "tests")
    return raw


@pytest.fixture
def api_client(client, api_key):
    """Django's test client sending the API key on every request."""
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {api_key}"
    return client


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real Celery worker process (Redis broker) working against this test's database.

    Needs data committed, hence `transactional_db`. Yields the worker's log path."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from django.conf import settings
    from django.db import connection

    broker = os.environ.get("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
    if broker.startswith("filesystem://"):
        pytest.fail("The worker tests need CELERY_BROKER_URL=redis://... (make test sets it).")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "DJANGO_SETTINGS_MODULE": "selfheal.settings",
    }
    log = tmp_path / "worker.log"
    celery = Path(sys.executable).with_name("celery")
    # Drop whatever an earlier run left queued for this broker database.
    subprocess.run([celery, "-A", "selfheal", "purge", "-f", "-Q", "celery,sandbox"], env=env,
                   capture_output=True, timeout=30)  # fmt: skip
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [celery, "-A", "selfheal", "worker", "-Q", "celery,sandbox", "--pool=solo",
             "--without-gossip", "--without-mingle", "-l", "info"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"The Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    yield log
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
