"""The zygote: runs INSIDE one sandbox run and validates many candidates fast.

It imports pytest and collects the project's tests once, then forks: one child per chunk of tests
to measure coverage, one child per candidate to validate it. A child applies its candidate's
source in memory, runs the failing tests first, stops at the first failure, then runs the rest of
the suite. Each test has an alarm, each child CPU and memory limits, and the parent kills a child's
process group when its time is up: a candidate that loops forever costs one timeout and the search
goes on. Everything stays inside the one sandbox run, so the sandbox's guarantees hold for every
child.

Modes (the job's "mode"):
- "coverage": run every test on the unchanged project under a line tracer that splits each test
  into one segment per assert; report outcome, duration, covered lines and crash lines.
- "validate": check the job's candidates.
- "repair": coverage, then localisation, candidate generation (the engine's mutation search,
  shipped into the sandbox as the package `selfheal_mutation`), validation, two-edit
  combinations when no single edit passes, and a fresh pytest run of the best plausible patches.
With "runner": "command" (a suite pytest cannot drive) the test command runs in a subprocess per
candidate and exit code 0 passes.

The service writes JOB_FILE, runs `python LAUNCHER_FILE` and reads RESULTS_FILE: JSON lines,
flushed one by one so a run killed at its wall-clock limit keeps what it found. The records are
untrusted data for the service, which regenerates every candidate itself.
"""

import gc
import hashlib
import importlib.util
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
import types

LAUNCHER_FILE = ".selfheal_zygote.py"
PACKAGE_DIR = ".selfheal_engine"
PACKAGE = "selfheal_mutation"
JOB_FILE = ".selfheal_job.json"
RESULTS_FILE = ".selfheal_results.jsonl"
LAUNCHER = (
    "import sys\n"
    f"sys.path.insert(0, {PACKAGE_DIR!r})\n"
    f"from {PACKAGE}.zygote import main\n"
    "sys.exit(main())\n"
)

ROOT = os.getcwd()
STARTED = time.monotonic()


def text_digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class AlarmTimeout(Exception):
    """Raised by the per-test alarm inside a child."""


def _alarm(signum, frame):
    raise AlarmTimeout("test timed out")


class Results:
    def __init__(self, path):
        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole run

    def write(self, **record):
        record["t"] = round(time.monotonic() - STARTED, 4)  # seconds since the zygote started
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()


# ---------------------------------------------------------------------------------------------
# Coverage: a line tracer that follows only project frames and splits tests at their asserts.


def assert_starts(path):
    """{line: first line of the assert statement covering it} for a test file."""
    import ast

    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return {}
    starts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
                starts[line] = node.lineno
    return starts


class SegmentTracer:
    """Collects the project lines each assert of a test executes.

    A segment ends when a test frame moves past an assert (that assert passed); the segment open
    when the test ends has the test's outcome. A test without asserts is one segment.
    """

    def __init__(self, project_paths, assert_lines):
        self.project_paths = project_paths  # {absolute path: relative path}
        self.assert_lines = assert_lines  # {absolute test path: {line: assert start}}
        self.segments, self.current, self.pending = [], set(), None

    def _global(self, frame, event, arg):
        path = frame.f_code.co_filename
        if path in self.project_paths:
            return self._project_line
        if path in self.assert_lines:
            return self._test_line
        return None

    def _project_line(self, frame, event, arg):
        if event == "line":
            self.current.add((frame.f_code.co_filename, frame.f_lineno))
        return self._project_line

    def _test_line(self, frame, event, arg):
        if event == "line":
            start = self.assert_lines[frame.f_code.co_filename].get(frame.f_lineno)
            if self.pending is not None and start != self.pending:
                self._flush(True)
            self.pending = start
        return self._test_line

    def _flush(self, passed):
        lines = sorted([self.project_paths[p], n] for p, n in self.current)
        self.segments.append({"passed": passed, "lines": lines})
        self.current = set()

    def start(self):
        self.segments, self.current, self.pending = [], set(), None
        sys.settrace(self._global)

    def stop(self, passed):
        sys.settrace(None)
        if self.current or self.pending is not None or not self.segments:
            self._flush(passed)
        elif not passed:
            self.segments[-1]["passed"] = False
        return self.segments


# ---------------------------------------------------------------------------------------------
# Children: fork, limit, read one JSON line per record through a pipe.


def limit_child(memory_mb, cpu_seconds):
    os.setpgid(0, 0)
    if memory_mb:
        try:
            with open("/proc/self/statm") as f:
                current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):
            current = 256 * 1024 * 1024
        limit = current + memory_mb * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if cpu_seconds:
        used = resource.getrusage(resource.RUSAGE_SELF)
        budget = int(used.ru_utime + used.ru_stime + cpu_seconds) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard == resource.RLIM_INFINITY or budget < hard:
            resource.setrlimit(resource.RLIMIT_CPU, (budget, budget))
    signal.signal(signal.SIGALRM, _alarm)


class Child:
    """A forked child running `work(send)`; `send(dict)` writes a JSON line to the parent."""

    def __init__(self, work, timeout, memory_mb):
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(read_end)
            try:
                limit_child(memory_mb, timeout)

                def send(record):
                    os.write(write_end, (json.dumps(record) + "\n").encode())

                work(send)
            except BaseException as exc:  # noqa: BLE001 - the child reports everything, then exits
                try:
                    os.write(write_end, (json.dumps({"error": describe(exc)}) + "\n").encode())
                except BaseException:  # noqa: BLE001, S110
                    pass
            os._exit(0)
        os.close(write_end)
        self.fd = read_end
        self.buffer = b""
        self.deadline = time.monotonic() + timeout
        self.done = False

    def read_records(self):
        try:
            chunk = os.read(self.fd, 1 << 16)
        except OSError:
            chunk = b""
        if not chunk:
            self.done = True
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def kill(self):
        for kill in (os.killpg, os.kill):
            try:
                kill(self.pid, signal.SIGKILL)
            except OSError:
                pass

    def close(self):
        os.close(self.fd)


def reap(pids, block):
    """Collect finished children; returns those still exiting."""
    left = []
    for pid in pids:
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            continue
        if not done:
            left.append(pid)
    return left


def describe(exc):
    return f"{type(exc).__name__}: {exc}"[:500]


def failure_message(text):
    """The `E   ...` line pytest shows for a failure, else its last line."""
    lines = text.strip().splitlines()
    for line in lines:
        if line.startswith("E "):
            return line[1:].strip()[:300]
    return (lines[-1] if lines else "")[:300]


def run_children(jobs, workers, on_record, should_stop, final=lambda record: False):
    """Run `jobs` ([(key, work, timeout, memory_mb)]) with up to `workers` children at a time.
    on_record(key, record) gets every record a child sends, then {"exit": True, "timed_out": b}.

    A child whose record is `final` has said all it will: it is killed at once (whatever it
    left running goes with it) and reaped later, so the next child need not wait for its exit.
    """
    # Frozen objects are never scanned by a child's garbage collector, so the child does not
    # touch (and copy) the parent's memory page by page: forking gets several times cheaper.
    gc.freeze()
    pending = list(jobs)
    running = {}
    exiting = []
    while pending or running:
        exiting = reap(exiting, block=False)
        while pending and len(running) < workers and not should_stop():
            key, work, timeout, memory_mb = pending.pop(0)
            child = Child(work, timeout, memory_mb)
            running[child.fd] = (key, child)
        if not running:
            break
        wait = max(0.0, min(c.deadline for _, c in running.values()) - time.monotonic())
        readable, _, _ = select.select(list(running), [], [], wait)
        for fd in readable:
            key, child = running[fd]
            for record in child.read_records():
                on_record(key, record)
                if final(record):
                    child.done = True
        now = time.monotonic()
        for fd, (key, child) in list(running.items()):
            timed_out = not child.done and now >= child.deadline
            if child.done or timed_out:
                child.kill()
                child.close()
                exiting.append(child.pid)
                del running[fd]
                on_record(key, {"exit": True, "timed_out": timed_out})
    reap(exiting, block=True)


# ---------------------------------------------------------------------------------------------
# Applying a candidate inside a child.


def module_name_for(path):
    """The dotted name `path` is importable as, from the longest matching sys.path entry."""
    best = ("", os.path.basename(path))
    for entry in sys.path:
        entry = os.path.abspath(entry or ".")
        if path.startswith(entry + os.sep) and len(entry) > len(best[0]):
            best = (entry, os.path.relpath(path, entry))
    parts = best[1][: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules():
    modules = {}
    engine = os.path.join(ROOT, PACKAGE_DIR) + os.sep
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        path = os.path.abspath(path)
        if path.startswith(ROOT + os.sep) and not path.startswith(engine):
            modules[path] = module
    return modules


def apply_in_memory(files, loaded):
    """Execute each candidate file in its module and rebind what other modules imported from it:
    `from calc import add` in a test keeps the old function; after calc is re-executed, every
    project module's global holding one of calc's old functions or classes gets the new one.
    `loaded` is project_modules(), computed once before forking."""
    for rel, source in files.items():
        path = os.path.join(ROOT, rel)
        code = compile(source, path, "exec", dont_inherit=True)
        module = loaded.get(path)
        if module is None:
            name = module_name_for(path)
            module = importlib.util.module_from_spec(
                importlib.util.spec_from_file_location(name, path)
            )
            sys.modules[name] = module
            exec(code, module.__dict__)  # noqa: S102 - inside the sandbox, on purpose
            continue
        old = dict(module.__dict__)
        exec(code, module.__dict__)  # noqa: S102
        replaced = {}
        for name, value in old.items():
            new = module.__dict__.get(name)
            if new is not value and isinstance(value, types.FunctionType | type):
                replaced[id(value)] = (value, new)
        for other in loaded.values():
            namespace = other.__dict__
            for name, value in list(namespace.items()):
                pair = replaced.get(id(value))
                if pair is not None and pair[0] is value:
                    namespace[name] = pair[1]


def read_file(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8", newline="") as f:
        return f.read()


def write_files(files):
    for rel, source in files.items():
        with open(os.path.join(ROOT, rel), "w", encoding="utf-8", newline="") as f:
            f.write(source)


def silence():
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


class FreshCounter:
    """Counts what a fresh pytest run did."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.first_failure = ""
        self.message = ""

    def pytest_runtest_logreport(self, report):
        if report.passed and report.when == "call":
            self.passed += 1
        elif report.failed:
            self.failed += 1
            if not self.first_failure:
                self.first_failure = report.nodeid
                self.message = failure_message(report.longreprtext)

    def pytest_collectreport(self, report):
        if report.failed:
            self.failed += 1
            if not self.first_failure:
                self.first_failure = report.nodeid or "collection"
                self.message = failure_message(report.longreprtext)


def fresh_pytest(files, pytest_args, send):
    """In a child: write `files`, forget every project module, run pytest from scratch."""
    import pytest

    silence()
    write_files(files)
    for module in project_modules().values():
        sys.modules.pop(module.__name__, None)
    counter = FreshCounter()
    code = pytest.main([*pytest_args, "-x", "-q", "-p", "no:cacheprovider"], plugins=[counter])
    passed = int(code) == 0 and counter.failed == 0
    send(
        {
            "status": "plausible" if passed else "failed",
            "passed": counter.passed,
            "fixed_failing": 0,
            "first_failure": counter.first_failure,
            "message": counter.message or f"pytest exit code {int(code)}",
        }
    )


# ---------------------------------------------------------------------------------------------
# The pytest plugin that takes over the test loop once collection is done.


class Zygote:
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


def test_timeouts(records, ceiling):
    """Per-test alarms for candidates, from the traced baseline (tracing already makes it slower
    than a candidate's run): five times what the test took, plus a quarter second. A test that
    timed out or crashed gets the longest of the others."""
    timeouts = {}
    for record in records:
        if record["outcome"] in ("passed", "skipped", "failed"):
            timeouts[record["nodeid"]] = min(ceiling, 0.25 + 5 * record["duration"])
    fallback = max([*timeouts.values(), 0.5])
    for record in records:
        timeouts.setdefault(record["nodeid"], min(ceiling, fallback))
    return timeouts


def import_engine():
    engine = types.SimpleNamespace()
    engine.localize = __import__(f"{PACKAGE}.localize", fromlist=["x"])
    engine.search = __import__(f"{PACKAGE}.search", fromlist=["x"])
    return engine


class SearchState:
    def __init__(self):
        self.first_plausible = None
        self.plausible = []
        self.results = {}  # id -> record

    def finished(self, job):
        """Out of time, or a short while after the first plausible patch, or enough of them."""
        if out_of_time(job):
            return True
        if self.first_plausible is None:
            return False
        stop = job.get("stop", {})
        if time.monotonic() - self.first_plausible > stop.get("extra_seconds", 0.0):
            return True
        return len(self.plausible) >= stop.get("max_plausible", 1)

    def progress(self):
        return {i: r.get("fixed_failing", 0) for i, r in self.results.items()}


def run_search(job, results, engine, suspicious, extra_lines, validate, confirm=None, coverage=()):
    """Generate, validate, combine, confirm. The service replays the generation from the
    records (`mutation/validate.py`), so every generation step is written down as a phase.

    Single edits go in batches; after each batch, pairs of the edits that made some failing
    tests pass are tried before the next batch. When the single edits are exhausted, wider pairs.
    """
    files = {path: read_file(path) for path in job["project_files"]}
    suspicious = engine.search.target_suspiciousness(suspicious, extra_lines, files)
    results.write(kind="suspicious", lines=[[p, n, s] for (p, n), s in suspicious.items()])
    search = engine.search.MutationSearch(priors=job.get("priors") or {})
    singles = search.singles(files, suspicious, job["max_candidates"])
    results.write(kind="phase", name="singles", count=len(singles))
    everything = list(singles)
    room = job["max_candidates"] - len(singles)
    batch = job.get("batch", 150)
    state = SearchState()
    position = 0
    while position < len(singles) and not state.finished(job):
        validate([as_job(c) for c in singles[position : position + batch]], state)
        position += batch
        tried = [c for c in singles[:position] if c.id in state.results]
        limit = min(room, job.get("pairs_per_batch", 30))
        if state.plausible or limit <= 0 or state.finished(job):
            continue
        pairs = search.progress_pairs(files, tried, state.progress(), limit)
        if pairs:
            results.write(
                kind="phase", name="progress_pairs", count=len(pairs), limit=limit,
                tried=[c.id for c in tried],
            )  # fmt: skip
            validate([as_job(c) for c in pairs], state)
            everything += pairs
            room -= len(pairs)
    tried = [c for c in singles if c.id in state.results]
    if not state.plausible and len(tried) == len(singles) and room > 0 and not out_of_time(job):
        pairs = search.combinations(files, tried, state.progress(), room)
        results.write(
            kind="phase", name="combinations", count=len(pairs), limit=room,
            tried=[c.id for c in tried],
        )  # fmt: skip
        validate([as_job(c) for c in pairs], state)
        everything += pairs
    if state.plausible:
        reason = "plausible"
    elif out_of_time(job):
        reason = "deadline"
    else:
        reason = "exhausted"
    results.write(kind="stopped", reason=reason, generated=len(everything))
    if confirm is None:
        return
    by_id = {c.id: c for c in everything}
    plausible = [by_id[i] for i in state.plausible if i in by_id]
    covered = engine.search.covered_lines(coverage)
    for candidate in engine.search.best_first(plausible, covered)[: job.get("confirm", 3)]:
        outcome = {}

        def on_record(key, record, outcome=outcome):
            outcome.setdefault("record", record)

        run_children(
            [("confirm", confirm(candidate), job["candidate_timeout"], job["memory_mb"])],
            1, on_record, lambda: False,
        )  # fmt: skip
        write_files({candidate.path: files[candidate.path]})
        passed = outcome.get("record", {}).get("status") == "plausible"
        results.write(kind="confirm", id=candidate.id, passed=passed)
        if passed:
            break


def out_of_time(job):
    return time.monotonic() - STARTED > job["deadline_seconds"]


def as_job(candidate):
    return {"id": candidate.id, "files": {candidate.path: candidate.text}}


def run_candidates(job, results, candidates, work_for, timeout, workers, restore, state):
    """Validate candidates in order; stop at the deadline, or a short while after the first
    plausible candidate, or after enough plausible ones. Records go to `results` and `state`."""
    originals = {}
    if restore:
        for candidate in candidates:
            for rel in candidate["files"]:
                originals.setdefault(rel, read_file(rel))

    def should_stop():
        return state.finished(job)

    def on_record(key, record):
        if key in state.results:
            return
        if "status" in record:
            record = {k: record[k] for k in record if k != "id"}
        elif "error" in record:
            record = {"status": "error", "message": record["error"]}
        elif record.get("exit"):
            record = {"status": "timeout" if record["timed_out"] else "crashed"}
        else:
            return
        record["digest"] = digests[key]
        state.results[key] = record
        if record["status"] == "plausible":
            state.plausible.append(key)
            if state.first_plausible is None:
                state.first_plausible = time.monotonic()
                seconds = round(state.first_plausible - STARTED, 4)
                results.write(kind="first_plausible", seconds=seconds)
        results.write(kind="candidate", id=key, **record)

    def final(record):
        return "status" in record or "error" in record

    digests = {c["id"]: "".join(text_digest(t) for t in c["files"].values()) for c in candidates}
    if restore:
        for candidate in candidates:
            if should_stop():
                break
            job_item = (candidate["id"], work_for(candidate), timeout, job["memory_mb"])
            run_children([job_item], 1, on_record, should_stop, final)
            write_files({rel: originals[rel] for rel in candidate["files"]})
        return
    jobs = [(c["id"], work_for(c), timeout, job["memory_mb"]) for c in candidates]
    run_children(jobs, workers, on_record, should_stop, final)


# ---------------------------------------------------------------------------------------------
# Suites pytest cannot drive: the test command per candidate, exit code 0 passes.


def command_repair(job, results):
    def run_command():
        try:
            proc = subprocess.run(  # noqa: S602 - the project's own test command, sandboxed
                job["command"], shell=True, capture_output=True, timeout=job["candidate_timeout"]
            )
        except subprocess.TimeoutExpired:
            return None, "timed out"
        return proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace")

    code, output = run_command()
    results.write(kind="command", exit_code=code, output=output[-4000:])
    if code == 0 or code in (126, 127):
        results.write(kind="baseline", failing=[] if code == 0 else ["<command>"])
        return
    results.write(kind="baseline", failing=["<command>"])
    engine = import_engine()
    extra = engine.localize.traceback_lines(output, job["project_files"])

    def work_for(candidate):
        def work(send):
            silence_stdin()
            write_files(candidate["files"])
            code, output = run_command()
            status = "plausible" if code == 0 else "failed"
            send({"status": status, "passed": 0, "fixed_failing": 0, "message": output[-300:]})

        return work

    def validate(candidates, state):
        timeout = job["candidate_timeout"] + 1
        run_candidates(job, results, candidates, work_for, timeout, 1, True, state)
        return state

    run_search(job, results, engine, {}, extra, validate)


def silence_stdin():
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)


def main():
    with open(JOB_FILE, encoding="utf-8") as f:
        job = json.load(f)
    sys.dont_write_bytecode = True
    results = Results(RESULTS_FILE)
    if job.get("runner") == "command":
        command_repair(job, results)
        results.write(kind="end")
        return 0
    if not job.get("plugin_autoload", False):
        # The service's virtualenv has plugins (django, playwright) the project never asked for;
        # autoloading them costs seconds per run.
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import pytest

    plugin = Zygote(job, results)
    args = [*job["pytest_args"], "-q", "-p", "no:cacheprovider"]
    code = pytest.main(args, plugins=[plugin])
    results.write(kind="end", exit_code=int(code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
