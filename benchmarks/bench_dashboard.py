"""The /self-healing page with 1,000,000 error events and 10,000 patterns loaded (PostgreSQL):
p50/p95 response time of the whole page and of each live part. Baselines from the same run: the
same requests before the events were loaded (the page should not care how many events there are),
and one plain `SELECT count(*)` over the events table (what a naive dashboard would pay for a
single number).

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/bench_dashboard.py [--events 1000000]

The data is generated inside PostgreSQL (INSERT ... SELECT generate_series), then VACUUM ANALYZE'd
as autovacuum would do; requests go through Django's test Client, logged in, DEBUG off.
"""

import argparse
import statistics
import time

from _django import benchmark_database

PROJECTS = 5  # the reader is a member of the first 3
GROUPS = 2_000
PATTERNS = 10_000
PROPOSALS = 5_000  # over the last 30 days, two fix attempts each
JOBS = 20
REQUESTS = 30
PARTS = ("numbers", "actions", "alerts", "breakers", "charts", "patterns", "experiments")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def event_steps(ids: str, count: int, events: int) -> list[tuple[str, str]]:
    # fmt: off
    return [
        ("error groups", f"""
            INSERT INTO monitoring_errorgroup (project_id, fingerprint, exc_type, message, culprit,
                category, severity, root_cause, count, first_seen, last_seen, releases, status,
                created_at)
            SELECT ({ids})[1 + i % {count}], md5('g' || i), 'KeyError', 'key ' || i,
                'shop.orders in handler', 'key', 'medium', '', {events} / {GROUPS},
                now() - interval '30 days', now() - (i || ' seconds')::interval, '[]',
                CASE WHEN i % 3 = 0 THEN 'resolved' ELSE 'unresolved' END, now()
            FROM generate_series(1, {GROUPS}) AS i"""),
        ("error events", f"""
            INSERT INTO monitoring_errorevent (project_id, event_id, group_id, source, received_at,
                timestamp, level, release, environment, payload)
            SELECT g.project_id, gen_random_uuid(), g.id, 'sentry', t, t, 'error', 'shop@2.3.1',
                'production', jsonb_build_object('exception', jsonb_build_object('values',
                    jsonb_build_array(jsonb_build_object('type', 'KeyError', 'value', 'key ' || i))))
            FROM generate_series(1, {events}) AS i
            -- spread evenly over the last 30 days, in no particular order
            CROSS JOIN LATERAL (SELECT now() - ((i::bigint * 7919) % 2592000) * interval '1 second' AS t) AS ts
            JOIN monitoring_errorgroup g ON g.fingerprint = md5('g' || (1 + i % {GROUPS}))"""),
    ]
    # fmt: on


def history_steps(ids: str, count: int) -> list[tuple[str, str]]:
    """Everything but the events: patterns, proposals and fix attempts, jobs, alerts, breakers."""
    # fmt: off
    return [
        ("patterns", f"""
            INSERT INTO patterns_pattern (signature, category, normalised_message, code_shape,
                root_cause, status, status_reason, successes, failures, confidence, created_at,
                updated_at, last_used_at)
            SELECT md5('p' || i), (ARRAY['import','attribute','type','key','value'])[1 + i % 5],
                'name <name> is not defined in ' || i, '', '',
                (ARRAY['candidate','active','active','deprecated'])[1 + i % 4], '', s, f,
                (s + 1.0) / (s + f + 2.0), now(), now(), now() - (i || ' minutes')::interval
            FROM generate_series(1, {PATTERNS}) AS i,
                 LATERAL (SELECT (i * 7) % 40 AS s, (i * 3) % 9 AS f) AS counts"""),
        ("pattern projects", f"""
            INSERT INTO patterns_pattern_projects (pattern_id, project_id)
            SELECT p.id, ({ids})[1 + p.id % {count}] FROM patterns_pattern p"""),
        ("fix templates (variants)", """
            INSERT INTO patterns_fixtemplate (pattern_id, key, spec, description, source, variant,
                occurrences, successes, failures, confidence, created_at)
            SELECT p.id, v.label, '{}', 'variant ' || v.label, 'rules', v.label, 3, v.s, v.f, 0.7, now()
            FROM patterns_pattern p
            CROSS JOIN (VALUES ('A', 12, 8), ('B', 17, 3)) AS v(label, s, f)
            WHERE p.id % 20 = 0"""),
        ("proposals", f"""
            INSERT INTO proposals_proposal (project_id, title, description, status, source, stage,
                status_reason, recovery_count, created_at, updated_at)
            SELECT ({ids})[1 + i % {count}], 'Proposal ' || i, '',
                (ARRAY['tests_passed','applied','unfixable','applied','rejected'])[1 + i % 5],
                'api', '', '', 0, t, t
            FROM generate_series(1, {PROPOSALS}) AS i,
                 LATERAL (SELECT now() - (i * interval '30 days' / {PROPOSALS}) AS t) AS ts"""),
        ("fix attempts", """
            INSERT INTO proposals_fixattempt (proposal_id, number, strategy, rule, variant, analysis,
                diff, explanation, confidence, security_verdict, security_reasons,
                skipped_strategies, outcome, duration, started_at, finished_at)
            SELECT p.id, n, (ARRAY['template','rules','mutation','llm'])[1 + (p.id + n) % 4], '', '',
                '{}', '', 'attempt ' || n, 0.6 + (p.id % 40) / 100.0, 'safe', '[]', '[]',
                CASE WHEN n = 2 AND p.status <> 'unfixable' THEN 'passed' ELSE 'failed' END,
                30, p.created_at + (n * interval '1 minute'), p.created_at + (n * interval '2 minutes')
            FROM proposals_proposal p CROSS JOIN generate_series(1, 2) AS n"""),
        ("automatic reviews", """
            INSERT INTO proposals_review (proposal_id, decision, note, automatic, created_at)
            SELECT id, 'approved', 'Auto-applied', true, updated_at + interval '3 minutes'
            FROM proposals_proposal WHERE status = 'applied'"""),
        ("project files and versions", f"""
            WITH files AS (
                INSERT INTO proposals_projectfile (project_id, path, content, version, deleted, updated_at)
                SELECT p, 'shop/module_' || i || '.py', 'X = 1', 3, false, now()
                FROM unnest({ids}) AS p, generate_series(1, 200) AS i RETURNING id)
            INSERT INTO proposals_projectfileversion (file_id, version, content, deleted, source, created_at)
            SELECT f.id, v, 'X = ' || v, false,
                CASE WHEN v = 1 THEN 'import' ELSE 'proposal #' || (f.id * 3 + v) END, now()
            FROM files f CROSS JOIN generate_series(1, 3) AS v"""),
        ("jobs, runs, healing actions", f"""
            WITH jobs AS (
                INSERT INTO monitoring_job (project_id, name, slug, ping_key, stuck_after,
                    retry_webhook_url, retry_task_name, retry_when_slow, status, created_at)
                SELECT ({ids})[1 + i % {count}], 'job ' || i, 'job-' || i,
                    gen_random_uuid(), interval '5 minutes', 'http://127.0.0.1:9/retry', '', false,
                    'up', now()
                FROM generate_series(1, {JOBS}) AS i RETURNING id),
            runs AS (
                INSERT INTO monitoring_jobrun (job_id, status, last_activity_at, log, slow)
                SELECT id, 'stuck', now(), '', false FROM jobs, generate_series(1, 100) RETURNING id, job_id)
            INSERT INTO monitoring_healingaction (job_id, run_id, problem, kind, target, called_ok,
                detail, outcome, created_at)
            SELECT job_id, id, 'stuck', 'webhook', 'http://127.0.0.1:9/retry', true, 'HTTP 200',
                'recovered', now() - (id || ' minutes')::interval FROM runs"""),
        ("open alerts", f"""
            INSERT INTO monitoring_alert (project_id, kind, cause, severity, title, body, status, opened_at)
            SELECT ({ids})[1 + i % {count}], 'complex_heal', 'bench:' || i, 'info',
                'Healed something hard ' || i, '', 'open', now()
            FROM generate_series(1, 50) AS i"""),
        ("circuit breakers", """
            INSERT INTO patterns_circuitbreaker (name, state, events, consecutive_opens,
                total_successes, total_failures, window_seconds, min_calls,
                failure_rate_threshold, trend_delta, cool_down_seconds, max_cool_down_seconds,
                updated_at)
            VALUES ('llm', 'closed', '[]', 0, 120, 4, 600, 4, 0.5, 0.4, 60, 1800, now()),
                   ('webhooks', 'closed', '[]', 0, 900, 12, 300, 5, 0.5, 0.4, 30, 600, now())"""),
    ]
    # fmt: on


def load(cursor, steps: list[tuple[str, str]]) -> None:
    for label, sql in steps:
        started = time.perf_counter()
        cursor.execute(sql)
        print(f"  loaded {label:28} {cursor.rowcount:>9,} rows in {time.perf_counter() - started:6.1f} s",
              flush=True)  # fmt: skip
    started = time.perf_counter()
    cursor.execute("VACUUM ANALYZE")
    print(f"  VACUUM ANALYZE {time.perf_counter() - started:29.1f} s", flush=True)


def timed(client, url: str, n: int) -> list[float]:
    for _ in range(3):  # warm-up: connections, template loading, plan caches
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args()
    urls = [
        ("/self-healing (all 3 projects)", "/self-healing"),
        ("/self-healing?project=shop-0", "/self-healing?project=shop-0"),
        *[(f"  part: {name}", f"/self-healing/parts/{name}") for name in PARTS],
        ("/api/v1/self-healing/stats", "/api/v1/self-healing/stats"),
    ]

    with benchmark_database("selfheal_bench_dashboard") as connection:
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.db import connection as db
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from selfheal import services

        if connection.vendor != "postgresql":
            raise SystemExit("Set DATABASE_URL to a PostgreSQL database.")
        settings.DEBUG = False
        settings.ALLOWED_HOSTS = ["*"]
        reader = get_user_model().objects.create_user("reader", "reader@example.com", "pw-reader-1")
        owner = get_user_model().objects.create_user("owner", "owner@example.com", "pw-owner-1")
        projects = [
            services.create_project(reader if i < 3 else owner, f"Shop {i}")
            for i in range(PROJECTS)
        ]
        ids = "ARRAY[" + ",".join(str(p.pk) for p in projects) + "]"
        client = Client()
        client.force_login(reader)

        print(f"Loading {PATTERNS:,} patterns, {PROPOSALS:,} proposals with {2 * PROPOSALS:,} "
              "fix attempts, jobs, alerts, breakers:")  # fmt: skip
        with db.cursor() as cursor:
            load(cursor, history_steps(ids, len(projects)))
        print(f"Timing {len(urls)} URLs with no error events yet ...", flush=True)
        before = {url: statistics.median(timed(client, url, args.requests)) for _, url in urls}

        print(f"Loading {args.events:,} error events in {GROUPS:,} groups:")
        with db.cursor() as cursor:
            load(cursor, event_steps(ids, len(projects), args.events))
            count_times = []
            for _ in range(5):
                started = time.perf_counter()
                cursor.execute("SELECT count(*) FROM monitoring_errorevent")
                cursor.fetchone()
                count_times.append((time.perf_counter() - started) * 1000)
        count_all = statistics.median(count_times)

        with CaptureQueriesContext(db) as queries:
            client.get("/self-healing")
        print(f"\nThe page runs {len(queries.captured_queries)} queries. "
              f"One SELECT count(*) over all {args.events:,} events takes {count_all:.1f} ms.")  # fmt: skip
        print(f"Response times over {args.requests} requests each (ms):")
        print(f"  {'':36} {'p50':>8} {'p95':>8} {'p50, 0 events':>14} {'ratio':>6}")
        for label, url in urls:
            times = timed(client, url, args.requests)
            p50 = statistics.median(times)
            print(f"  {label:36} {p50:8.1f} {percentile(times, 95):8.1f} {before[url]:14.1f} "
                  f"{p50 / before[url]:6.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
