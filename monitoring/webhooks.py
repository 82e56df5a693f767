"""Outgoing JSON POSTs (retry webhooks, rollback webhooks, alert webhooks), with what came back."""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_DETAIL_CHARS = 500


@dataclass(frozen=True)
class PostResult:
    ok: bool
    status_code: int | None
    detail: str
    attempts: int


def _post_once(url: str, body: bytes, timeout: float) -> tuple[int | None, str]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "selfheal"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) URLs only, validated by the models
            return response.status, response.read(MAX_DETAIL_CHARS).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(MAX_DETAIL_CHARS).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


CallGuard = Callable[[str, Callable[[], "PostResult"]], "PostResult"]
_guard: CallGuard | None = None


def set_call_guard(guard: CallGuard | None) -> None:
    """Wrap every outgoing POST (patterns puts a circuit breaker per host here from its ready());
    the guard gets the URL and a function doing the POST, and returns its PostResult."""
    global _guard
    _guard = guard


def post_json(
    url: str,
    payload: dict,
    *,
    attempts: int = 1,
    timeout: float | None = None,
    backoff_seconds: float = 0.5,
) -> PostResult:
    """POST `payload`; a 2xx is success. Retries (with doubling backoff) on anything else."""
    if not url.lower().startswith(("http://", "https://")):
        return PostResult(False, None, "Only http and https URLs are called.", 0)
    timeout = timeout or getattr(settings, "MONITORING_WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT_SECONDS)
    body = json.dumps(payload, default=str).encode()

    def send() -> PostResult:
        return _post_with_retries(url, body, attempts, timeout, backoff_seconds)

    return _guard(url, send) if _guard is not None else send()


def _post_with_retries(
    url: str, body: bytes, attempts: int, timeout: float, backoff_seconds: float
) -> PostResult:
    status, detail = None, ""
    for attempt in range(1, attempts + 1):
        status, detail = _post_once(url, body, timeout)
        if status is not None and 200 <= status < 300:
            return PostResult(True, status, detail[:MAX_DETAIL_CHARS], attempt)
        if attempt < attempts:
            time.sleep(backoff_seconds * 2 ** (attempt - 1))
    shown = f"HTTP {status}: {detail}" if status is not None else detail
    return PostResult(False, status, shown[:MAX_DETAIL_CHARS], attempts)
