"""Error ingest on the real PostgreSQL: events/s accepted through the Sentry envelope view, p50/p99
accept latency, and events/s fully grouped, beside raw INSERTs into the same table in the same run.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/bench_ingest.py [--events 4000] [--threads 4]

The load generator is Django's test Client in threads (the whole request path: middleware, auth,
decompression, envelope parsing, rate limit, the INSERT); PostgreSQL runs in its own processes.
"""

import argparse
import gzip
import json
import statistics
import threading
import time
import uuid

from _django import benchmark_database

DISTINCT_BUGS = 25


def sentry_event(bug: int, n: int) -> dict:
    """About the size and shape of what sentry-sdk sends for an exception (10 frames, context)."""
    frames = [
        {
            "filename": f"shop/module_{depth}.py", "abs_path": f"/srv/shop/module_{depth}.py",
            "module": f"shop.module_{depth}", "function": f"step_{depth}_{bug}",
            "lineno": 10 + depth + n % 7, "in_app": True, "context_line": f"    result = step_{depth + 1}(order)",
            "pre_context": ["def handler(order):", "    log.info('start')", "    order.check()"],
            "post_context": ["    return result", "", ""],
            "vars": {"order": f"<Order {n}>", "attempt": str(n % 3)},
        }
        for depth in range(10)
    ]  # fmt: skip
    return {
        "event_id": uuid.uuid4().hex, "timestamp": time.time(), "platform": "python", "level": "error",
        "release": "shop@2.3.1", "environment": "production", "server_name": "web-1",
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
        "exception": {"values": [{"type": ["ValueError", "KeyError", "TypeError", "ZeroDivisionError", "RuntimeError"][bug % 5],
                                  "value": f"order {n} failed at step {bug}",
                                  "mechanism": {"type": "generic", "handled": True},
                                  "stacktrace": {"frames": frames}}]},
        "breadcrumbs": {"values": [{"timestamp": time.time(), "category": "query", "message": f"SELECT * FROM orders WHERE id = {n}"}] * 5},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}, "os": {"name": "Linux"}},
        "tags": {"customer_tier": "gold"}, "extra": {"sys.argv": ["manage.py", "runserver"]},
    }  # fmt: skip


def envelope(event: dict) -> bytes:
    payload = json.dumps(event).encode()
    header = json.dumps({"event_id": event["event_id"], "sent_at": "2026-12-01T00:00:00Z"}).encode()
    item = json.dumps({"type": "event", "length": len(payload)}).encode()
    return gzip.compress(header + b"\n" + item + b"\n" + payload, compresslevel=6)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_threads(threads: int, work) -> float:
    """Run `work(thread_index)` in threads; the wall-clock seconds."""
    from django.db import connections

    def target(index):
        try:
            work(index)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=target, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


def raw_insert_baseline(project_id: int, count: int, threads: int) -> float:
    """Single-row INSERT ... ON CONFLICT DO NOTHING, autocommit, like one request each."""
    from django.db import connection

    per_thread = count // threads
    bodies = [json.dumps(sentry_event(i % DISTINCT_BUGS, i)) for i in range(min(per_thread, 200))]
    sql = (
        "INSERT INTO monitoring_errorevent (project_id, event_id, source, received_at, timestamp, "
        "level, release, environment, payload) VALUES (%s, %s, 'sentry', now(), now(), 'error', "
        "'shop@2.3.1', 'production', %s::jsonb) ON CONFLICT DO NOTHING"
    )

    def work(index):
        with connection.cursor() as cursor:
            for i in range(per_thread):
                cursor.execute(sql, [project_id, uuid.uuid4(), bodies[i % len(bodies)]])

    seconds = run_threads(threads, work)
    return per_thread * threads / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    with benchmark_database("selfheal_bench_ingest") as connection:
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.test import Client

        from monitoring import grouping
        from monitoring.models import ErrorEvent, ErrorGroup
        from selfheal import services

        if connection.vendor != "postgresql":
            raise SystemExit("Set DATABASE_URL to a PostgreSQL database.")
        settings.MONITORING_RATE_LIMIT_PER_MINUTE = 10**9
        settings.DEBUG = False
        user = get_user_model().objects.create_user("bench", password="bench-password-1")
        project = services.create_project(user, "Bench shop")
        auth = f"Sentry sentry_key={project.public_key}, sentry_version=7, sentry_client=sentry.python/2.75.0"
        url = f"/api/{project.pk}/envelope/"

        per_thread = args.events // args.threads
        total = per_thread * args.threads
        print(f"{total} events, {args.threads} client threads, PostgreSQL {connection.pg_version}")

        # Warm up (imports, connections, caches), then clear the table for the measured runs.
        warm = Client()
        for i in range(50):
            warm.post(url, envelope(sentry_event(i, i)), content_type="application/x-sentry-envelope",
                      HTTP_CONTENT_ENCODING="gzip", HTTP_X_SENTRY_AUTH=auth)  # fmt: skip
        ErrorEvent.objects.all().delete()

        baseline = raw_insert_baseline(project.pk, total, args.threads)
        ErrorEvent.objects.all().delete()
        connection.cursor().execute("VACUUM ANALYZE monitoring_errorevent")

        bodies = [[envelope(sentry_event((t * per_thread + i) % DISTINCT_BUGS, t * per_thread + i))
                   for i in range(per_thread)] for t in range(args.threads)]  # fmt: skip
        latencies: list[list[float]] = [[] for _ in range(args.threads)]
        failures: list[int] = []

        def ingest(index):
            client = Client()
            for body in bodies[index]:
                started = time.perf_counter()
                response = client.post(url, body, content_type="application/x-sentry-envelope",
                                       HTTP_CONTENT_ENCODING="gzip", HTTP_X_SENTRY_AUTH=auth)  # fmt: skip
                latencies[index].append(time.perf_counter() - started)
                if response.status_code != 200:
                    failures.append(response.status_code)

        seconds = run_threads(args.threads, ingest)
        accepted = ErrorEvent.objects.filter(project=project).count()
        if failures or accepted != total:
            raise SystemExit(
                f"{len(failures)} requests failed ({set(failures)}); {accepted} stored"
            )
        all_latencies = [x for per in latencies for x in per]
        ingest_rate = total / seconds

        started = time.perf_counter()
        grouped = grouping.group_pending_events()
        grouping_seconds = time.perf_counter() - started
        groups = ErrorGroup.objects.filter(project=project).count()
        body_size = statistics.mean(len(b) for per in bodies for b in per)

        print(f"  raw INSERT baseline      {baseline:9.0f} rows/s  ({args.threads} connections, one row per statement)")  # fmt: skip
        print(f"  ingest accepted          {ingest_rate:9.0f} events/s  = {ingest_rate / baseline:.2f} × the raw INSERT rate")  # fmt: skip
        print(f"  accept latency           p50 {percentile(all_latencies, 50) * 1000:.2f} ms   p99 {percentile(all_latencies, 99) * 1000:.2f} ms  (gzip envelopes of {body_size / 1024:.1f} KiB)")  # fmt: skip
        print(f"  grouping                 {grouped / grouping_seconds:9.0f} events/s  ({grouped} events into {groups} groups, one process)")  # fmt: skip
        verdict = "keeps up with" if grouped / grouping_seconds >= ingest_rate else "is slower than"
        print(f"  grouping {verdict} ingest ({grouped / grouping_seconds / ingest_rate:.2f} ×); target ≥ 1000 events/s accepted: "
              f"{'met' if ingest_rate >= 1000 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
