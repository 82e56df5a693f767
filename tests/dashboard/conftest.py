import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class WebhookReceiver:
    """A local HTTP server that keeps the JSON bodies POSTed to it and answers `statuses` in
    order, then 200."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status < 300:
                    receiver.bodies.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address
        return f"http://{host}:{port}/alerts"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def broker():
    """The test broker (Redis): the messages sent to a queue for a task, removed afterwards."""
    import base64

    import redis
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://...")
    connection = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    taken: list[tuple[str, bytes]] = []

    def sent(queue: str, task_name: str) -> list[list]:
        found = []
        for raw in connection.lrange(queue, 0, -1):
            message = json.loads(raw)
            if message["headers"].get("task") == task_name:
                found.append(json.loads(base64.b64decode(message["body"]))[0])
                taken.append((queue, raw))
        return found

    yield sent
    for queue, raw in taken:
        connection.lrem(queue, 0, raw)
    connection.close()
