"""Error ingest on the real PostgreSQL: events/s accepted through the Sentry envelope view, p50/p99
accept latency, and events/s fully grouped, beside raw INSERTs into the same table in the same run.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/bench_ingest.py [--events 6000]
        [--processes 2] [--threads 4]

The load is Django's test Client in threads, in as many forked processes as the machine has cores:
the whole request path (middleware, auth, decompression, envelope parsing, rate limit, the INSERT)
without a socket. The baseline is the same table filled by the same processes and threads with
one raw INSERT per statement, measured in the same run.
"""

import argparse
import gzip
import json
import multiprocessing
import os
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


def run_parallel(processes: int, threads: int, work, payloads: list) -> tuple[float, list[float]]:
    """Split `payloads` over processes × threads; each thread calls `work(state, payload)` for its
    share, timing each call. Returns (wall seconds from the first start to the last end, latencies).

    Processes are forked after the database connections are closed; each opens its own."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    go = context.Event()
    results = context.Queue()
    shares = [payloads[i :: processes * threads] for i in range(processes * threads)]

    def child(index: int) -> None:
        latencies, spans = [], []
        lock = threading.Lock()

        def thread(share):
            state = {}
            mine = []
            go.wait()
            started = time.perf_counter(), time.time()
            for payload in share:
                t0 = time.perf_counter()
                work(state, payload)
                mine.append(time.perf_counter() - t0)
            with lock:
                latencies.extend(mine)
                spans.append((started[1], started[1] + time.perf_counter() - started[0]))
            connections.close_all()

        pool = [
            threading.Thread(target=thread, args=(shares[index * threads + t],))
            for t in range(threads)
        ]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        results.put((latencies, spans))

    children = [context.Process(target=child, args=(i,)) for i in range(processes)]
    for c in children:
        c.start()
    time.sleep(0.5)  # let every process reach the starting line
    go.set()
    gathered = [results.get() for _ in children]
    for c in children:
        c.join()
    latencies = [x for lat, _ in gathered for x in lat]
    starts = [s for _, spans in gathered for s, _ in spans]
    ends = [e for _, spans in gathered for _, e in spans]
    return max(ends) - min(starts), latencies


INSERT_SQL = (
    "INSERT INTO monitoring_errorevent (project_id, event_id, source, received_at, timestamp, "
    "level, release, environment, payload) VALUES (%s, %s, 'sentry', now(), now(), 'error', "
    "'shop@2.3.1', 'production', %s::jsonb) ON CONFLICT DO NOTHING"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="one per core")
    parser.add_argument("--threads", type=int, default=4, help="client threads per process")
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
        total = args.events
        print(f"{total} events; {args.processes} processes × {args.threads} threads; "
              f"PostgreSQL {connection.pg_version}; {os.cpu_count()} cores")  # fmt: skip

        events = [sentry_event(i % DISTINCT_BUGS, i) for i in range(total)]
        bodies = [envelope(event) for event in events]
        rows = [json.dumps(event) for event in events]

        # Warm up (imports, connection, caches), then empty the table for the measured runs.
        warm = Client()
        for body in bodies[:50]:
            warm.post(url, body, content_type="application/x-sentry-envelope",
                      HTTP_CONTENT_ENCODING="gzip", HTTP_X_SENTRY_AUTH=auth)  # fmt: skip
        ErrorEvent.objects.all().delete()

        def insert(state, row):
            if "cursor" not in state:
                from django.db import connection as thread_connection

                state["cursor"] = thread_connection.cursor()
            state["cursor"].execute(INSERT_SQL, [project.pk, uuid.uuid4(), row])

        baseline_seconds, baseline_latencies = run_parallel(
            args.processes, args.threads, insert, rows
        )
        baseline = total / baseline_seconds
        ErrorEvent.objects.all().delete()
        connection.cursor().execute("VACUUM ANALYZE monitoring_errorevent")

        failures = []

        def post(state, body):
            client = state.setdefault("client", Client())
            response = client.post(url, body, content_type="application/x-sentry-envelope",
                                   HTTP_CONTENT_ENCODING="gzip", HTTP_X_SENTRY_AUTH=auth)  # fmt: skip
            if response.status_code != 200:
                failures.append(response.status_code)

        seconds, latencies = run_parallel(args.processes, args.threads, post, bodies)
        accepted = ErrorEvent.objects.filter(project=project).count()
        if accepted != total:
            raise SystemExit(f"only {accepted} of {total} events were stored")
        ingest_rate = total / seconds

        started = time.perf_counter()
        grouped = grouping.group_pending_events()
        one_process = grouped / (time.perf_counter() - started)
        groups = ErrorGroup.objects.filter(project=project).count()
        ErrorEvent.objects.update(group=None)
        ErrorGroup.objects.all().delete()
        group_seconds, _ = run_parallel(
            args.processes,
            1,
            lambda state, _: grouping.group_pending_events(),
            [None] * args.processes,
        )
        parallel = total / group_seconds
        body_size = statistics.mean(len(b) for b in bodies)

        print(f"  raw INSERT baseline   {baseline:7.0f} rows/s    p50 {percentile(baseline_latencies, 50) * 1000:.2f} ms  p99 {percentile(baseline_latencies, 99) * 1000:.2f} ms  (one row per autocommit statement)")  # fmt: skip
        print(f"  ingest accepted       {ingest_rate:7.0f} events/s  p50 {percentile(latencies, 50) * 1000:.2f} ms  p99 {percentile(latencies, 99) * 1000:.2f} ms  = {ingest_rate / baseline:.2f} × raw INSERTs")  # fmt: skip
        print(f"                        (the whole view via Django's test Client: gzip envelopes of {body_size / 1024:.1f} KiB, auth, rate limit, parse, INSERT)")  # fmt: skip
        print(f"  grouping              {one_process:7.0f} events/s in 1 process, {parallel:.0f} events/s in {args.processes} ({grouped} events into {groups} groups)")  # fmt: skip
        keeps_up = max(one_process, parallel) >= ingest_rate
        print(f"  grouping {'keeps up with' if keeps_up else 'falls behind'} ingest; "
              f"target ≥ 1000 events/s accepted: {'met' if ingest_rate >= 1000 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
