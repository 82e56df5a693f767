"""One sandbox run of the zygote (`engine/zygote/`): the service side.

The sandbox gets the project's files, the zygote and the pure-Python search modules (as the
package `selfheal_mutation`, which is how the zygote imports them), and a job. Inside, the zygote
measures coverage, localises, generates, validates and confirms; it writes JSON records. Here the
records are read as untrusted data: the candidates are generated again from the same inputs with
the same deterministic search, and a reported result counts only when the digest of the code the
zygote validated matches the code generated here.
"""

from __future__ import annotations

import functools
import json
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from ... import localize, zygote
from ...sandbox import SandboxLimits, SandboxResult, run_in_sandbox
from .search import Candidate, MutationSearch

MUTATION_DIR = Path(__file__).resolve().parent
ENGINE_DIR = MUTATION_DIR.parent.parent


@functools.cache
def shipped_modules() -> dict[str, str]:
    """The package the sandbox imports as `selfheal_mutation`: this search (source, operators,
    search), the localisation and the zygote, all pure Python, as {relative path: source}."""
    sources = {
        "localize.py": ENGINE_DIR / "localize.py",
        "source.py": MUTATION_DIR / "source.py",
        "search.py": MUTATION_DIR / "search.py",
    }
    for package in (MUTATION_DIR / "operators", ENGINE_DIR / "zygote"):
        for path in sorted(package.glob("*.py")):
            sources[f"{package.name}/{path.name}"] = path
    return {"__init__.py": "", **{name: path.read_text() for name, path in sources.items()}}


# pytest options that make no sense when the zygote drives the run.
DROPPED_OPTIONS = {"-x", "--exitfirst", "--lf", "--last-failed", "--ff", "--failed-first", "--sw"}
DROPPED_WITH_VALUE = {"-n", "--numprocesses", "--junitxml", "--junit-xml", "--maxfail"}


class BadTestCommand(ValueError):
    """The test command is empty or cannot be split into arguments."""


def pytest_arguments(test_command: str) -> list[str] | None:
    """The arguments after `pytest` in a pytest command, or None for any other command."""
    try:
        argv = shlex.split(test_command)
    except ValueError as exc:
        raise BadTestCommand(f"cannot read the test command: {exc}") from exc
    if not argv:
        raise BadTestCommand("the test command is empty")
    while argv and "=" in argv[0] and not argv[0].startswith("-"):
        argv = argv[1:]  # VAR=value prefixes
    if not argv:
        return None
    program = Path(argv[0]).name
    if program in ("pytest", "py.test"):
        rest = argv[1:]
    elif program.startswith("python") and argv[1:3] == ["-m", "pytest"]:
        rest = argv[3:]
    else:
        return None
    kept, skip = [], False
    for arg in rest:
        if skip:
            skip = False
        elif arg in DROPPED_OPTIONS:
            continue
        elif arg.split("=", 1)[0] in DROPPED_WITH_VALUE:
            skip = "=" not in arg
        else:
            kept.append(arg)
    return kept


@dataclass
class SearchSettings:
    budget_seconds: float = 60.0
    max_candidates: int = 2000
    priors: dict[str, float] = field(default_factory=dict)
    workers: int = 2
    memory_mb: int = 512  # per child, on top of what the zygote already uses
    test_timeout: float = 10.0  # ceiling of a per-test alarm
    candidate_timeout: float = 30.0  # ceiling for one candidate
    extra_seconds: float = 0.5  # keep searching this long after the first plausible patch
    max_plausible: int = 10
    confirm: int = 3  # fresh pytest runs of the best plausible patches, at most


@dataclass
class CandidateResult:
    candidate: Candidate
    status: str  # "plausible" | "failed" | "timeout" | "crashed" | "error"
    fixed_failing: int = 0
    passed: int = 0  # tests that passed before the first failure
    message: str = ""
    seconds: float = 0.0


@dataclass
class SearchRun:
    """What one zygote run found, with every candidate regenerated on this side."""

    sandbox: SandboxResult
    records: list[dict]
    collected: list[str] | None = None  # None: pytest never got to collect
    collect_errors: list[dict] = field(default_factory=list)
    failing: list[str] | None = None  # None: the baseline did not finish
    suspicious: dict[tuple[str, int], float] = field(default_factory=dict)
    results: list[CandidateResult] = field(default_factory=list)
    rejected: int = 0  # records whose digest did not match the code generated here
    confirmed: list[int] = field(default_factory=list)
    refuted: list[int] = field(default_factory=list)
    first_plausible_seconds: float | None = None
    # Seconds between the first candidate handed to validation and the last result.
    validation_seconds: float = 0.0
    command_exit_code: int | None = None
    command_output: str = ""
    finished: bool = False
    stop_reason: str = ""  # "plausible" | "deadline" | "exhausted"
    launched_at: float = 0.0  # time.monotonic() when the sandbox run was started

    @property
    def plausible(self) -> list[CandidateResult]:
        return [
            r
            for r in self.results
            if r.status == "plausible" and r.candidate.id not in self.refuted
        ]


def job_for(test_command: str, target_paths: list[str], settings: SearchSettings) -> dict:
    pytest_args = pytest_arguments(test_command)
    job = {
        "mode": "repair",
        "runner": "pytest" if pytest_args is not None else "command",
        "pytest_args": pytest_args or [],
        "command": test_command,
        "project_files": sorted(target_paths),
        "test_timeout": settings.test_timeout,
        # The unchanged code may loop forever: its tests get a share of the budget, not more.
        "coverage_timeout": min(settings.test_timeout, max(0.5, settings.budget_seconds * 0.05)),
        "candidate_timeout": settings.candidate_timeout,
        "memory_mb": settings.memory_mb,
        # The zygote stops starting work here, leaving time to confirm and report.
        "deadline_seconds": max(0.5, settings.budget_seconds * 0.9 - 0.5),
        "max_candidates": settings.max_candidates,
        "priors": settings.priors,
        "stop": {"extra_seconds": settings.extra_seconds, "max_plausible": settings.max_plausible},
        "workers": settings.workers,
        "confirm": settings.confirm,
    }
    return job


def sandbox_files(files: dict[str, str], job: dict) -> dict[str, str]:
    shipped = {
        f"{zygote.PACKAGE_DIR}/{zygote.PACKAGE}/{name}": text
        for name, text in shipped_modules().items()
    }
    return {
        **files,
        **shipped,
        zygote.LAUNCHER_FILE: zygote.LAUNCHER,
        zygote.JOB_FILE: json.dumps(job),
    }


def run_search(
    files: dict[str, str],
    test_command: str,
    target_paths: list[str],
    settings: SearchSettings,
    limits: SandboxLimits | None = None,
    allow_unsafe: bool = False,
    runner=run_in_sandbox,
) -> SearchRun:
    """Run the whole search in one sandbox run and rebuild its results here."""
    job = job_for(test_command, target_paths, settings)
    wall = settings.budget_seconds + 15.0
    limits = limits or SandboxLimits(
        cpu_seconds=int(wall) + 5,
        wall_seconds=wall,
        memory_mb=settings.memory_mb + 1024,
        processes=64,
        result_bytes=64 * 1024 * 1024,  # coverage of a large suite takes room
    )
    launched_at = time.monotonic()
    result, collected = runner(
        sandbox_files(files, job),
        ["python", zygote.LAUNCHER_FILE],
        limits,
        allow_unsafe,
        (zygote.RESULTS_FILE,),
    )
    records = parse_records(collected.get(zygote.RESULTS_FILE, b""))
    run = SearchRun(sandbox=result, records=records, launched_at=launched_at)
    read_records(run, files, target_paths, settings)
    return run


def parse_records(data: bytes) -> list[dict]:
    records = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("kind"), str):
            records.append(record)
    return records


def read_records(
    run: SearchRun, files: dict[str, str], target_paths: list[str], settings: SearchSettings
) -> None:
    """Fill `run` from its records, replaying the search to get the candidates' code."""
    targets = {p: files[p] for p in target_paths}
    search = MutationSearch(priors=dict(settings.priors))
    generated: dict[int, Candidate] = {}
    singles: list[Candidate] = []
    reported: dict[int, dict] = {}
    validation_started = None
    for record in run.records:
        kind = record["kind"]
        if kind == "collected":
            run.collected = [str(t) for t in record.get("tests", [])]
            run.collect_errors = list(record.get("collect_errors", []))
        elif kind == "command":
            run.command_exit_code = record.get("exit_code")
            run.command_output = str(record.get("output", ""))
        elif kind == "baseline":
            run.failing = [str(t) for t in record.get("failing", [])]
        elif kind == "suspicious":
            run.suspicious = {
                (str(p), int(n)): float(s)
                for p, n, s in record.get("lines", [])
                if str(p) in targets
            }
        elif kind == "phase" and record.get("name") == "singles":
            validation_started = float(record.get("t", 0.0))
            singles = search.singles(targets, run.suspicious, settings.max_candidates)
            generated.update((c.id, c) for c in singles)
        elif kind == "phase" and record.get("name") in ("progress_pairs", "combinations"):
            tried_ids = set(record.get("tried", []))
            tried = [c for c in singles if c.id in tried_ids]
            progress = {i: int(r.get("fixed_failing", 0)) for i, r in reported.items()}
            limit = min(int(record.get("limit", 0)), settings.max_candidates)
            make = (
                search.progress_pairs if record["name"] == "progress_pairs" else search.combinations
            )
            generated.update((c.id, c) for c in make(targets, tried, progress, limit))
        elif kind == "candidate":
            reported[record.get("id")] = record
            if validation_started is not None:
                run.validation_seconds = float(record.get("t", 0.0)) - validation_started
            candidate = generated.get(record.get("id"))
            if candidate is None or record.get("digest") != zygote.text_digest(candidate.text):
                run.rejected += 1
                continue
            run.results.append(
                CandidateResult(
                    candidate=candidate,
                    status=str(record.get("status", "error")),
                    fixed_failing=int(record.get("fixed_failing") or 0),
                    passed=int(record.get("passed") or 0),
                    message=str(record.get("message", ""))[:300],
                    seconds=float(record.get("seconds") or 0.0),
                )
            )
        elif kind == "first_plausible":
            run.first_plausible_seconds = float(record.get("seconds", 0.0))
        elif kind == "confirm":
            (run.confirmed if record.get("passed") else run.refuted).append(record.get("id"))
        elif kind == "stopped":
            run.stop_reason = str(record.get("reason", ""))
        elif kind == "end":
            run.finished = True


def spectra(run: SearchRun) -> list[localize.Spectrum]:
    return localize.spectra_from_records(run.records)
