"""CONTRACT (to be implemented): run untrusted code isolated. See issue 2, item 5."""

from __future__ import annotations

from dataclasses import dataclass, field


class SandboxRefused(Exception):
    """No isolation strong enough is available and unsafe mode is off."""


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: int = 60
    memory_mb: int = 1024
    processes: int = 64
    open_files: int = 256
    file_size_mb: int = 64
    wall_seconds: float = 120.0
    output_bytes: int = 256 * 1024
    tmpfs_mb: int = 256


@dataclass
class TestCaseResult:
    name: str  # pytest node id, e.g. "tests/test_calc.py::test_add"
    outcome: str  # "passed" | "failed" | "error" | "skipped"
    message: str = ""  # the one-line failure message
    details: str = ""  # the traceback / long representation
    duration: float = 0.0
    file: str = ""
    line: int | None = None


@dataclass
class SandboxResult:
    exit_code: int | None
    timed_out: bool
    stdout: str
    stderr: str
    duration: float
    isolation: str  # "bwrap" | "bwrap-noproc" | "landlock" | "unsafe-rlimits"
    tests: list[TestCaseResult] = field(default_factory=list)
    junit_found: bool = False
    output_truncated: bool = False

    @property
    def failed_tests(self) -> list[TestCaseResult]:
        return [t for t in self.tests if t.outcome in ("failed", "error")]

    @property
    def passed(self) -> bool:
        return (
            not self.timed_out
            and self.exit_code == 0
            and not self.failed_tests
            and (any(t.outcome == "passed" for t in self.tests) if self.junit_found else True)
        )


@dataclass(frozen=True)
class Isolation:
    level: str  # "bwrap" | "bwrap-noproc" | "landlock" | "unsafe-rlimits" | "none"
    detail: str  # a sentence for people: what was tried and what works


def detect_isolation() -> Isolation:
    """Probe (once, cached) which isolation works on this machine."""
    raise NotImplementedError


def run_in_sandbox(
    files: dict[str, str],
    command: list[str] | str,
    limits: SandboxLimits | None = None,
    allow_unsafe: bool = False,
    result_files: tuple[str, ...] = (),
) -> tuple[SandboxResult, dict[str, bytes]]:
    """Materialise `files` into a fresh directory, run `command` there isolated, and return the
    result plus the named `result_files` the run wrote (read safely: O_NOFOLLOW, regular, capped)."""
    raise NotImplementedError


def run_tests_in_sandbox(
    files: dict[str, str],
    test_command: str,
    limits: SandboxLimits | None = None,
    allow_unsafe: bool = False,
) -> SandboxResult:
    """Run the project's test command (pytest gets --junitxml) and fill `tests` from the JUnit XML."""
    raise NotImplementedError
