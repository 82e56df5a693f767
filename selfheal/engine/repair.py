"""Offline repair of a project: localise the fault, search single edits (then pairs), validate
every candidate inside the sandbox, and return the best plausible patch with all the others.

`repair(files, test_command)` works on a {path: text} dict; `load_directory(path)` reads one from
disk. Neither writes anything: applying a patch is the caller's decision.
"""

from __future__ import annotations

import ast
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .fixers.mutation.search import Candidate, best_first, covered_lines
from .fixers.mutation.validate import (
    BadTestCommand,
    SearchRun,
    SearchSettings,
    pytest_arguments,
    run_search,
)
from .patch import FileEdit, Patch
from .sandbox import SandboxLimits, SandboxRefused, run_in_sandbox

DEFAULT_TEST_COMMAND = "python -m pytest -q"
SKIPPED_DIRECTORIES = {
    ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", "node_modules", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", ".eggs", "htmlcov",
}  # fmt: skip
MAX_FILE_BYTES = 1024 * 1024
MAX_PROJECT_BYTES = 32 * 1024 * 1024
MAX_FILES = 5000


class RepairInputError(ValueError):
    """The directory or the options cannot be repaired as given (bad input, exit code 2)."""


@dataclass
class PlausiblePatch:
    operator: str
    description: str
    path: str
    line: int
    diff: str
    score: float
    risky: bool
    confirmed: bool  # passed a fresh pytest run of the whole suite, not only the in-memory one
    content: str = field(repr=False, default="")

    def to_dict(self) -> dict:
        return {
            "operator": self.operator,
            "description": self.description,
            "path": self.path,
            "line": self.line,
            "patch": self.diff,
            "score": round(self.score, 4),
            "risky": self.risky,
            "confirmed": self.confirmed,
        }


@dataclass
class RepairResult:
    status: str  # "fixed" | "not_fixed" | "already_passing" | "error"
    message: str
    strategy: str = "mutation"
    operator: str = ""
    description: str = ""
    patch: Patch | None = None
    diff: str = ""
    plausible_patches: list[PlausiblePatch] = field(default_factory=list)
    candidates_tried: int = 0
    # Test-suite runs: the baseline, one (stopped at its first failure) per candidate, and the
    # fresh confirmation runs.
    test_runs: int = 0
    tests_executed: int = 0
    seconds: float = 0.0
    first_plausible_seconds: float | None = None  # since repair() was called
    validation_seconds: float = 0.0  # from the first candidate handed out to the last result
    isolation: str = ""
    failing_tests: list[str] = field(default_factory=list)
    suspicious_lines: list[tuple[str, int, float]] = field(default_factory=list)

    @property
    def fixed(self) -> bool:
        return self.status == "fixed"

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "message": self.message,
            "strategy": self.strategy,
            "operator": self.operator,
            "description": self.description,
            "patch": self.diff,
            "plausible_patches": [p.to_dict() for p in self.plausible_patches],
            "candidates_tried": self.candidates_tried,
            "test_runs": self.test_runs,
            "tests_executed": self.tests_executed,
            "seconds": round(self.seconds, 3),
            "first_plausible_seconds": self.first_plausible_seconds,
            "validation_seconds": round(self.validation_seconds, 3),
            "isolation": self.isolation,
            "failing_tests": self.failing_tests,
            "suspicious_lines": [[p, n, round(s, 4)] for p, n, s in self.suspicious_lines],
        }


TEST_WORDS = {"test", "tests", "testing", "conftest"}


def is_test_path(path: str) -> bool:
    """Tests and test runners: a directory or file name with a word like `test` in it
    (`tests/`, `test_calc.py`, `calc_test.py`, `run_tests.py`, `conftest.py`)."""
    for part in path.split("/"):
        stem = part[:-3] if part.endswith(".py") else part
        if TEST_WORDS & set(re.split(r"[_\-.]", stem.lower())):
            return True
    return False


def target_paths(files: dict[str, str], changed_paths: list[str] | None = None) -> list[str]:
    """The Python files a repair may change: the changed ones when given, never tests."""
    sources = [p for p in files if p.endswith(".py") and not is_test_path(p)]
    if changed_paths:
        changed = [p for p in sources if p in set(changed_paths)]
        if changed:
            return sorted(changed)
    return sorted(sources)


def load_directory(directory: str | os.PathLike) -> dict[str, str]:
    """The project's text files as {relative path: text}; skips VCS, caches and virtualenvs."""
    root = Path(directory)
    if not root.is_dir():
        raise RepairInputError(f"{directory} is not a directory")
    files: dict[str, str] = {}
    total = 0
    for parent, dirs, names in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs if d not in SKIPPED_DIRECTORIES and not d.endswith(".egg-info")
        )
        for name in sorted(names):
            path = Path(parent, name)
            if path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                continue
            try:
                text = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                continue
            total += size
            if total > MAX_PROJECT_BYTES or len(files) >= MAX_FILES:
                raise RepairInputError(
                    f"{directory} is too large to repair (over {MAX_FILES} "
                    f"files or {MAX_PROJECT_BYTES // 1024 // 1024} MB of text)"
                )
            files[path.relative_to(root).as_posix()] = text
    return files


def check_input(
    files: dict[str, str], test_command: str, budget_seconds: float, max_candidates: int
) -> tuple[list[str] | None, list[str]]:
    """Refuse what cannot be repaired, with the reason. Returns (pytest args, target paths)."""
    if budget_seconds <= 0:
        raise RepairInputError("the budget must be more than 0 seconds")
    if max_candidates <= 0:
        raise RepairInputError("--max-candidates must be at least 1")
    try:
        pytest_args = pytest_arguments(test_command)
    except BadTestCommand as exc:
        raise RepairInputError(str(exc)) from exc
    python_files = sorted(p for p in files if p.endswith(".py"))
    for path in python_files:
        try:
            ast.parse(files[path], filename=path)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            where = f"{path}:{line}" if line else path
            raise RepairInputError(f"{where} does not parse: {getattr(exc, 'msg', exc)}") from exc
    if pytest_args is not None and not any(is_test_path(p) for p in python_files):
        raise RepairInputError("no tests found (no test_*.py, *_test.py or tests/ directory)")
    targets = target_paths(files)
    if not targets:
        raise RepairInputError("no Python source files outside the tests to repair")
    return pytest_args, targets


def repair(
    files: dict[str, str],
    test_command: str = DEFAULT_TEST_COMMAND,
    *,
    budget_seconds: float = 60.0,
    max_candidates: int = 2000,
    changed_paths: list[str] | None = None,
    settings: SearchSettings | None = None,
    limits: SandboxLimits | None = None,
    allow_unsafe: bool = False,
    runner=run_in_sandbox,
) -> RepairResult:
    """Find the smallest likely edit that makes the test command pass. Never raises for bad
    input: the result's status is "error" and its message says what is wrong."""
    started = time.monotonic()
    try:
        _, targets = check_input(files, test_command, budget_seconds, max_candidates)
    except RepairInputError as exc:
        return RepairResult(status="error", message=str(exc))
    if changed_paths:
        targets = target_paths(files, changed_paths)
    settings = settings or SearchSettings()
    settings.budget_seconds = budget_seconds
    settings.max_candidates = max_candidates
    try:
        run = run_search(files, test_command, targets, settings, limits, allow_unsafe, runner)
    except SandboxRefused as exc:
        return RepairResult(status="error", message=str(exc), isolation="none")
    result = interpret(run, files, test_command)
    result.seconds = time.monotonic() - started
    if result.first_plausible_seconds is not None:
        # The zygote counts from its own start; add what came before it: checking the input,
        # then starting the sandbox and the interpreter (the run's length minus the zygote's).
        zygote_seconds = max((r.get("t", 0.0) for r in run.records), default=0.0)
        before_zygote = max(0.0, run.sandbox.duration - zygote_seconds)
        result.first_plausible_seconds += (run.launched_at - started) + before_zygote
    return result


def interpret(run: SearchRun, files: dict[str, str], test_command: str) -> RepairResult:
    result = RepairResult(status="not_fixed", message="", isolation=run.sandbox.isolation)
    result.candidates_tried = len(run.results)
    result.test_runs = (1 if run.failing is not None else 0) + len(run.results)
    result.test_runs += len(run.confirmed) + len(run.refuted)
    result.tests_executed = len(run.collected or []) + sum(
        r.passed + (r.status != "plausible") for r in run.results
    )
    result.first_plausible_seconds = run.first_plausible_seconds
    result.validation_seconds = run.validation_seconds
    result.failing_tests = list(run.failing or [])
    top = sorted(run.suspicious.items(), key=lambda item: -item[1])[:10]
    result.suspicious_lines = [(p, n, s) for (p, n), s in top]
    error = _setup_error(run, test_command)
    if error:
        result.status, result.message = "error", error
        return result
    if run.failing is None:
        result.message = "the budget ran out before the unchanged code's tests finished"
        return result
    if not run.failing:
        result.status = "already_passing"
        result.message = f"the tests already pass ({len(run.collected or [])} collected)"
        return result
    plausible = [r.candidate for r in run.plausible]
    ordered = best_first(plausible, covered_lines(run.records))
    confirmed = [c for c in ordered if c.id in run.confirmed]
    best = confirmed[0] if confirmed else (ordered[0] if ordered and not run.refuted else None)
    if best is not None:
        ordered.remove(best)
        ordered.insert(0, best)
    result.plausible_patches = [_plausible(c, files, c.id in run.confirmed) for c in ordered]
    if best is None:
        result.message = _not_fixed_message(run)
        return result
    result.status = "fixed"
    result.operator = best.operator
    result.description = best.description
    result.patch = candidate_patch(best, files)
    result.diff = result.plausible_patches[0].diff
    result.message = f"fixed by {best.operator}: {best.description}"
    return result


def candidate_patch(candidate: Candidate, files: dict[str, str]) -> Patch:
    return Patch(
        [FileEdit(candidate.path, "modify", candidate.text, base_content=files[candidate.path])]
    )


def _plausible(candidate: Candidate, files: dict[str, str], confirmed: bool) -> PlausiblePatch:
    return PlausiblePatch(
        operator=candidate.operator,
        description=candidate.description,
        path=candidate.path,
        line=candidate.line,
        diff=candidate_patch(candidate, files).to_unified_diff(),
        score=candidate.score,
        risky=candidate.risky,
        confirmed=confirmed,
        content=candidate.text,
    )


def _output_tail(run: SearchRun, limit: int = 600) -> str:
    text = (run.sandbox.stderr.strip() or run.sandbox.stdout.strip())[-limit:]
    return text or "no output"


def _setup_error(run: SearchRun, test_command: str) -> str:
    """Why the search could not even start, or ""."""
    if run.command_exit_code in (126, 127):
        return f"the test command `{test_command}` was not found or cannot run"
    if run.command_exit_code is not None:
        return ""
    if run.collected is None:
        if run.sandbox.timed_out:
            return "the test run timed out before pytest collected the tests"
        return f"pytest could not start with `{test_command}`: {_output_tail(run)}"
    if not run.collected and not run.collect_errors:
        return "no tests were collected"
    if run.failing is None and not run.sandbox.timed_out:
        return f"the baseline test run did not finish: {_output_tail(run)}"
    return ""


def _not_fixed_message(run: SearchRun) -> str:
    if run.refuted and not run.confirmed:
        return "plausible patches passed in memory but failed a fresh test run"
    if not run.results:
        if run.stop_reason == "deadline" or run.sandbox.timed_out:
            return "the budget ran out before any candidate could be tried"
        return "no candidate could be generated for the suspicious lines"
    if run.stop_reason == "exhausted":
        reason = "no single edit or pair of edits in reach made the tests pass"
    else:
        reason = "the budget ran out"
    return f"{len(run.results)} candidates tried; {reason}"


def write_patch(directory: str | os.PathLike, result: RepairResult) -> list[str]:
    """Write the fixed files into `directory` (only for a fixed result). Returns the paths."""
    if not result.fixed or result.patch is None:
        return []
    root = Path(directory)
    written = []
    for edit in result.patch.edits:
        target = root / edit.path
        current = None
        if target.exists():
            with open(target, encoding="utf-8", newline="") as handle:
                current = handle.read()
        if edit.base_content is not None and current != edit.base_content:
            raise RepairInputError(f"{edit.path} changed since the repair started; not written")
        with open(target, "w", encoding="utf-8", newline="") as handle:
            handle.write(edit.content)
        written.append(edit.path)
    return written
