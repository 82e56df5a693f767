"""The pytest plugin that takes over the test loop once collection is done."""

import os
import signal
import time

from . import ROOT, STARTED
from .candidates import apply_in_memory, fresh_pytest, project_modules
from .children import AlarmTimeout, failure_message, run_children
from .loop import SearchState, import_engine, run_candidates, run_search, test_timeouts
from .tracer import SegmentTracer, assert_starts


class Zygote:
    """Collects once (pytest's own collection), then runs coverage, validation or the whole
    repair in `pytest_runtestloop`, instead of pytest's test loop."""

    def __init__(self, job, results):
        self.job = job
        self.results = results
        self.collect_errors = []
        self.excinfo = None

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append({"nodeid": report.nodeid, "message": report.longreprtext})

    def pytest_runtest_makereport(self, item, call):
        if call.when == "call" and call.excinfo is not None:
            self.excinfo = call.excinfo

    def pytest_runtestloop(self, session):
        items = list(session.items)
        self.results.write(
            kind="collected",
            tests=[item.nodeid for item in items],
            collect_errors=self.collect_errors,
            seconds=round(time.monotonic() - STARTED, 4),
        )
        mode = self.job["mode"]
        if mode == "coverage":
            self.coverage(items)
        elif mode == "validate":
            timeouts = self.job.get("test_timeouts", {})
            self.validate(
                items, self.job["candidates"], self.job.get("failing_tests", []), timeouts
            )
        else:
            self.repair(items)
        return True

    # running one test in a child --------------------------------------------------------------

    def run_item(self, item, nextitem, timeout):
        from _pytest.runner import runtestprotocol

        self.excinfo = None
        signal.setitimer(signal.ITIMER_REAL, timeout)
        started = time.perf_counter()
        try:
            reports = runtestprotocol(item, log=False, nextitem=nextitem)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        duration = time.perf_counter() - started
        failed = [r for r in reports if r.failed]
        if failed:
            timed_out = self.excinfo is not None and self.excinfo.errisinstance(AlarmTimeout)
            outcome = "timeout" if timed_out else "failed"
            return outcome, failure_message(failed[0].longreprtext), duration
        return ("skipped" if any(r.skipped for r in reports) else "passed"), "", duration

    def crash_lines(self, project_paths):
        if self.excinfo is None:
            return []
        lines = []
        for entry in self.excinfo.traceback:
            path = os.path.abspath(str(entry.path))
            if path in project_paths:
                lines.append([project_paths[path], entry.lineno + 1])
        return lines

    def run_item_lean(self, item, nextitem, timeout):
        """setup, call, teardown through their hooks, without building pytest's failure report
        (a tenth of the cost on a failure). Returns (outcome, message)."""
        from _pytest.outcomes import Skipped

        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            try:
                item.ihook.pytest_runtest_setup(item=item)
                item.ihook.pytest_runtest_call(item=item)
            finally:
                item.ihook.pytest_runtest_teardown(item=item, nextitem=nextitem)
        except Skipped:
            return "skipped", ""
        except BaseException as exc:  # noqa: BLE001 - whatever the test raised is a failure
            message = str(exc).strip().splitlines()
            return "failed", f"{type(exc).__name__}: {message[0] if message else ''}"[:300]
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return "passed", ""

    # coverage ---------------------------------------------------------------------------------

    def coverage(self, items):
        """Run every test once, traced, in as few children as crashes allow. Returns records."""
        job = self.job
        project_paths = {os.path.join(ROOT, p): p for p in job["project_files"]}
        test_paths = {os.path.abspath(str(item.path)) for item in items}
        tracer = SegmentTracer(project_paths, {p: assert_starts(p) for p in test_paths})
        timeout = job["coverage_timeout"]
        # The unchanged code may loop forever in every failing test: after a first timeout the
        # others get ten times the slowest test that finished, and the phase at most half the
        # time the search has.
        phase_ends = STARTED + job["deadline_seconds"] * 0.5
        records = {}

        def adapted(limit, slowest, timed_out):
            return max(0.25, min(timeout, 10 * slowest + 0.1)) if timed_out else limit

        def work_from(start, limit, slowest):
            def work(send):
                current, longest = limit, slowest
                for index in range(start, len(items)):
                    if time.monotonic() > phase_ends:
                        return
                    send({"index": index, "started": True, "limit": current})
                    nextitem = items[index + 1] if index + 1 < len(items) else None
                    tracer.start()
                    outcome, message, duration = self.run_item(items[index], nextitem, current)
                    failed = outcome in ("failed", "timeout")
                    segments = tracer.stop(not failed)
                    crash = self.crash_lines(project_paths) if failed else []
                    if outcome != "timeout":
                        longest = max(longest, duration)
                    current = adapted(current, longest, outcome == "timeout")
                    send(
                        {
                            "index": index,
                            "outcome": outcome,
                            "message": message,
                            "duration": round(duration, 6),
                            "segments": segments,
                            "crash": crash,
                        }
                    )

            return work

        current = {"index": None, "limit": timeout}

        def record_test(index, **fields):
            record = {"kind": "test", "nodeid": items[index].nodeid, **fields}
            records[index] = record
            self.results.write(**record)

        def on_record(key, record):
            if "started" in record:
                current["index"], current["limit"] = record["index"], record["limit"]
            elif "outcome" in record:
                index = record.pop("index")
                record_test(index, **record)
                current["index"] = None
            elif record.get("exit") and current["index"] is not None:
                outcome = "timeout" if record["timed_out"] else "crashed"
                record_test(
                    current["index"], outcome=outcome, message=outcome,
                    duration=current["limit"], segments=[], crash=[],
                )  # fmt: skip
                current["index"] = None

        start, limit = 0, timeout
        while start < len(items) and time.monotonic() < phase_ends:
            finished = [r["duration"] for r in records.values() if r["outcome"] != "timeout"]
            slowest = max(finished, default=0.01)
            limit = adapted(
                limit, slowest, any(r["outcome"] == "timeout" for r in records.values())
            )
            budget = limit * (len(items) - start) + 5
            run_children(
                [("coverage", work_from(start, limit, slowest), budget, job["memory_mb"])],
                1, on_record, lambda: False,
            )  # fmt: skip
            if start not in records and time.monotonic() < phase_ends:
                record_test(  # the child died before it could say anything
                    start, outcome="crashed", message="crashed", duration=0.0, segments=[], crash=[]
                )
            if not records:
                break
            start = max(records) + 1
        return [records[i] for i in sorted(records)]

    # validation -------------------------------------------------------------------------------

    def out_of_time(self):
        return time.monotonic() - STARTED > self.job["deadline_seconds"]

    def validate(self, items, candidates, failing_tests, timeouts, state=None):
        """Validate `candidates` ([{"id", "files"}]) in order; returns the shared search state."""
        state = state if state is not None else SearchState()
        if self.collect_errors or not items:
            work_for = self._fresh_work
            timeout, workers, restore = self.job["candidate_timeout"], 1, True
        else:
            plan = self.plan(items, failing_tests)
            work_for = self._session_work(plan, timeouts, len(failing_tests))
            default = self.job["test_timeout"]
            total = sum(timeouts.get(i.nodeid, default) for i in plan) + 1.0
            timeout = min(self.job["candidate_timeout"], total)
            workers, restore = self.job.get("workers", 1), False
        run_candidates(
            self.job, self.results, candidates, work_for, timeout, workers, restore, state
        )
        return state

    def plan(self, items, failing_tests):
        """Failing tests first (in the order given), then the rest of the suite. Tests marked
        xfail are left out: their failure is expected either way."""
        items = [i for i in items if i.get_closest_marker("xfail") is None]
        by_id = {item.nodeid: item for item in items}
        first = [by_id[n] for n in failing_tests if n in by_id]
        chosen = {id(i) for i in first}
        return first + [i for i in items if id(i) not in chosen]

    def _session_work(self, plan, timeouts, n_failing):
        default = self.job["test_timeout"]
        loaded = project_modules()

        def work_for(candidate):
            def work(send):
                started = time.perf_counter()
                apply_in_memory(candidate["files"], loaded)
                for index, item in enumerate(plan):
                    nextitem = plan[index + 1] if index + 1 < len(plan) else None
                    timeout = timeouts.get(item.nodeid, default)
                    outcome, message = self.run_item_lean(item, nextitem, timeout)
                    if outcome == "failed":
                        send(
                            {
                                "status": "failed",
                                "passed": index,
                                "fixed_failing": min(index, n_failing),
                                "first_failure": item.nodeid,
                                "message": message,
                                "seconds": round(time.perf_counter() - started, 5),
                            }
                        )
                        return
                send(
                    {
                        "status": "plausible",
                        "passed": len(plan),
                        "fixed_failing": n_failing,
                        "seconds": round(time.perf_counter() - started, 5),
                    }
                )

            return work

        return work_for

    def _fresh_work(self, candidate):
        return lambda send: fresh_pytest(candidate["files"], self.job["pytest_args"], send)

    # the whole repair -------------------------------------------------------------------------

    def repair(self, items):
        job = self.job
        records = self.coverage(items) if items else []
        # Quick failures first: a candidate that breaks something is rejected sooner.
        failing = [
            r["nodeid"]
            for r in sorted(records, key=lambda r: (r["outcome"] != "failed", r["duration"]))
            if r["outcome"] in ("failed", "timeout", "crashed")
        ]
        if not failing and not self.collect_errors:
            self.results.write(kind="baseline", failing=[])
            return
        self.results.write(kind="baseline", failing=failing)
        engine = import_engine()
        spectra = engine.localize.spectra_from_records(records)
        suspicious = engine.localize.suspiciousness(spectra)
        errors_text = "\n".join(e["message"] for e in self.collect_errors)
        extra = engine.localize.traceback_lines(errors_text, job["project_files"])
        timeouts = test_timeouts(records, job["test_timeout"])
        self.search(engine, suspicious, extra, failing, timeouts, items, records)

    def search(self, engine, suspicious, extra_lines, failing, timeouts, items, coverage):
        def validate(candidates, state):
            return self.validate(items, candidates, failing, timeouts, state)

        def confirm(candidate):
            return lambda send: fresh_pytest(
                {candidate.path: candidate.text}, self.job["pytest_args"], send
            )

        run_search(
            self.job, self.results, engine, suspicious, extra_lines, validate, confirm, coverage
        )
