import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit windows and the grouping debounce live in the cache: no leaks between tests."""
    cache.clear()
    yield
    cache.clear()


class RecordingServer:
    """A local HTTP server that records the JSON POSTs it receives and answers with `status`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200
        self.event = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                server.requests.append({"path": self.path, "json": json.loads(body or b"null")})
                status = server.statuses.pop(0) if server.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')
                server.event.set()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        host, port = self.httpd.server_address
        return f"http://{host}:{port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hook_server():
    server = RecordingServer()
    yield server
    server.close()


@pytest.fixture
def broker():
    """The test broker (Redis): read what was sent to a queue, by task name."""
    import base64

    import redis
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs CELERY_BROKER_URL=redis://...")
    connection = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def sent(queue: str, task_name: str) -> list[dict]:
        found = []
        for raw in connection.lrange(queue, 0, -1):
            message = json.loads(raw)
            if message["headers"].get("task") == task_name:
                body = json.loads(base64.b64decode(message["body"]))
                found.append({"id": message["headers"]["id"], "args": body[0], "kwargs": body[1]})
        return found

    def forget(queue: str, task_name: str) -> None:
        for raw in connection.lrange(queue, 0, -1):
            if json.loads(raw)["headers"].get("task") == task_name:
                connection.lrem(queue, 0, raw)

    yield type("Broker", (), {"sent": staticmethod(sent), "forget": staticmethod(forget)})
    connection.close()
