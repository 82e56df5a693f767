"""Error ingest on the real PostgreSQL: events/s accepted through the Sentry envelope view, p50/p99
accept latency, and events/s fully grouped, beside raw INSERTs into the same table in the same run.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/bench_ingest.py [--events 6000]
        [--processes 2] [--threads 4] [--method server,client]

Two ways to send the load, each from threads in as many forked processes as the machine has cores:
- server: a real gunicorn started as the Procfile starts it (2 workers × 4 threads), over HTTP
  keep-alive connections on 127.0.0.1. The closest to production, but the load generator shares
  the 2 cores with the server and PostgreSQL. The database connection settings are those of
  DATABASE_URL (e.g. `?conn_max_age=60` keeps connections between requests).
- client: Django's test Client: the whole request path (middleware, auth, decompression, envelope
  parsing, rate limit, the INSERT) without a socket, plus the test Client's own overhead.
The baseline is the same table filled by the same processes and threads with one raw INSERT per
statement, measured in the same run.
"""

import argparse
import gzip
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

from _django import ROOT, benchmark_database

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(database_name: str, port: int) -> subprocess.Popen:
    """The Procfile's web process, against the benchmark's database."""
    url = urlsplit(os.environ["DATABASE_URL"])
    env = {**os.environ, "DATABASE_URL": urlunsplit(url._replace(path="/" + database_name))}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "selfheal.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--timeout", "300", "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn did not start:\n{server.stderr.read()}") from None
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not listen within 30 s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2, help="one per core")
    parser.add_argument("--threads", type=int, default=4, help="client threads per process")
    parser.add_argument("--method", default="server,client", help="server, client or both")
    args = parser.parse_args()
    methods = [m.strip() for m in args.method.split(",") if m.strip()]

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

        headers = {"Content-Type": "application/x-sentry-envelope", "Content-Encoding": "gzip",
                   "X-Sentry-Auth": auth}  # fmt: skip
        results = {}
        for method in methods:
            server = None
            if method == "server":
                port = free_port()
                server = start_gunicorn(connection.settings_dict["NAME"], port)

                def post(state, body, port=port):
                    if "http" not in state:
                        state["http"] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    state["http"].request("POST", url, body, headers)
                    response = state["http"].getresponse()
                    answer = response.read()
                    if response.status != 200:  # counted below: every event must be stored
                        print(f"HTTP {response.status}: {answer[:200]}")
                    if response.will_close:
                        state.pop("http").close()

            elif method == "client":

                def post(state, body):
                    client = state.setdefault("client", Client())
                    response = client.post(url, body, content_type="application/x-sentry-envelope",
                                           HTTP_CONTENT_ENCODING="gzip", HTTP_X_SENTRY_AUTH=auth)  # fmt: skip
                    if response.status_code != 200:
                        print(f"HTTP {response.status_code}: {response.content[:200]}")

            else:
                raise SystemExit(f"Unknown method {method!r}")
            try:
                if server is not None:  # warm every worker up (imports, database connection)
                    run_parallel(1, 8, post, bodies[:80])
                ErrorEvent.objects.all().delete()
                connection.cursor().execute("VACUUM ANALYZE monitoring_errorevent")
                seconds, latencies = run_parallel(args.processes, args.threads, post, bodies)
            finally:
                if server is not None:
                    server.terminate()
                    server.wait(timeout=30)
            accepted = ErrorEvent.objects.filter(project=project).count()
            if accepted != total:
                raise SystemExit(f"{method}: only {accepted} of {total} events were stored")
            results[method] = (total / seconds, latencies)

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
        described = {
            "server": "gunicorn 2 workers × 4 threads, HTTP keep-alive from the load generator",
            "client": "the whole view via Django's test Client, no socket",
        }
        for method, (rate, latencies) in results.items():
            print(f"  ingest accepted       {rate:7.0f} events/s  p50 {percentile(latencies, 50) * 1000:.2f} ms  p99 {percentile(latencies, 99) * 1000:.2f} ms  = {rate / baseline:.2f} × raw INSERTs  [{method}]")  # fmt: skip
            print(f"                        ({described[method]}; gzip envelopes of {body_size / 1024:.1f} KiB: auth, rate limit, parse, INSERT)")  # fmt: skip
        ingest_rate = results[methods[0]][0]
        print(f"  grouping              {one_process:7.0f} events/s in 1 process, {parallel:.0f} events/s in {args.processes} ({grouped} events into {groups} groups)")  # fmt: skip
        keeps_up = max(one_process, parallel) >= ingest_rate
        print(f"  grouping {'keeps up with' if keeps_up else 'falls behind'} ingest [{methods[0]}]; "
              f"target ≥ 1000 events/s accepted: {'met' if ingest_rate >= 1000 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
