"""A fixed-window request limit per project, kept in Django's cache.

Shared across processes when the cache is (Redis, Memcached); per process with the default
local-memory cache, which is what a single-machine `make run` has.
"""

import math
import time

from django.conf import settings
from django.core.cache import cache

from .ingest import IngestError

WINDOW_SECONDS = 60


def limit_per_minute() -> int:
    return getattr(settings, "MONITORING_RATE_LIMIT_PER_MINUTE", 60_000)


def check_rate(project_id: int, cost: int = 1, now: float | None = None) -> None:
    """Count `cost` against the project's window; raise 429 with Retry-After once it is spent."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"monitoring:rate:{project_id}:{window}"
    try:  # the window's counter exists but for the first request of a window: one round trip
        used = cache.incr(key, cost)
    except ValueError:
        if cache.add(key, cost, timeout=WINDOW_SECONDS + 5):
            used = cost
        else:  # another process started the window first
            used = cache.incr(key, cost)
    limit = limit_per_minute()
    if used > limit:
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        raise IngestError(
            429,
            f"Project {project_id} sent more than {limit} requests this minute.",
            retry_after=retry_after,
        )
