"""The search inside the sandbox: generate, validate in batches, pair, confirm."""

import importlib
import json
import os
import subprocess
import time
import types

from . import PACKAGE, STARTED, text_digest
from .candidates import read_file, write_files
from .children import run_children


class Results:
    """The results file: JSON lines, flushed one by one."""

    def __init__(self, path):
        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole run

    def write(self, **record):
        record["t"] = round(time.monotonic() - STARTED, 4)  # seconds since the zygote started
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()


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
    """The engine's localisation and mutation search, shipped beside the zygote as the package
    `selfheal_mutation` (in the repository they live in different packages)."""
    return types.SimpleNamespace(
        localize=importlib.import_module(f"{PACKAGE}.localize"),
        search=importlib.import_module(f"{PACKAGE}.search"),
    )


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
    Two-edit combinations come only once every single edit has been tried, budget allowing."""
    files = {path: read_file(path) for path in job["project_files"]}
    suspicious = engine.search.target_suspiciousness(suspicious, extra_lines, files)
    results.write(kind="suspicious", lines=[[p, n, s] for (p, n), s in suspicious.items()])
    search = engine.search.MutationSearch(priors=job.get("priors") or {})
    singles = search.singles(files, suspicious, job["max_candidates"])
    results.write(kind="phase", name="singles", count=len(singles))
    everything = list(singles)
    room = job["max_candidates"] - len(singles)
    state = SearchState()
    validate([as_job(c) for c in singles], state)
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
