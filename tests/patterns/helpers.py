"""Failures and fixes as the auto-fix loop hands them to the pattern services."""

from selfheal.engine.classify import classify
from selfheal.engine.fixers.base import Candidate, FixContext
from selfheal.engine.patch import FileEdit, Patch
from selfheal.engine.sandbox import SandboxResult, TestCaseResult
from selfheal.engine.tracebacks import ErrorReport, Frame


def failing_context(
    files: dict[str, str], exc_type: str, message: str, *frames, test: str = ""
) -> FixContext:
    """The context of a failing run: one report, with frames (path, line) inside the sandbox."""
    report = ErrorReport(
        exc_type=exc_type,
        message=message,
        frames=[Frame(f"/sandbox/project/{path}", line, "f") for path, line in frames],
        test_name=test,
        source="pytest",
    )
    result = SandboxResult(
        exit_code=1, timed_out=False, stdout="", stderr="", duration=0.2, isolation="bwrap",
        tests=[TestCaseResult(test or "tests/test_x.py::test_x", "failed", message)], junit_found=True,
    )  # fmt: skip
    return FixContext(
        files=dict(files),
        changed_paths=[p for p in files if not p.startswith("tests/")],
        test_command="python -m pytest -q",
        test_result=result,
        reports=[report],
        classifications=[classify(report)],
    )


def fix(context: FixContext, path: str, new_content: str, strategy: str = "rules") -> Candidate:
    edit = FileEdit(path, "modify", new_content, base_content=context.files[path])
    return Candidate(strategy=strategy, patch=Patch([edit]), explanation=f"{strategy} fix",
                     confidence=0.8, rule=f"{strategy}-rule", root_cause="")  # fmt: skip


def patched(files: dict[str, str], candidate: Candidate) -> dict[str, str]:
    result = dict(files)
    for edit in candidate.patch.edits:
        result[edit.path] = edit.content
    return result


# Two projects with the same kind of bug (a stdlib module used without its import) in different code.
PATHS = {
    "paths.py": "def here():\n    return os.getcwd()\n",
    "tests/test_paths.py": "from paths import here\n\n\ndef test_here():\n    assert here()\n",
}
PATHS_FIXED = "import os\n\n\ndef here():\n    return os.getcwd()\n"
PATHS_FAILURE = (
    "NameError",
    "name 'os' is not defined",
    ("tests/test_paths.py", 5),
    ("paths.py", 2),
)

CLOCK = {
    "clock.py": '"""Clock."""\nimport sys\n\n\ndef stamp():\n    return time.time(), sys.argv\n',
    "tests/test_clock.py": "from clock import stamp\n\n\ndef test_stamp():\n    assert stamp()[0] > 0\n",
}
CLOCK_FIXED = (
    '"""Clock."""\nimport sys\nimport time\n\n\ndef stamp():\n    return time.time(), sys.argv\n'
)
CLOCK_FAILURE = (
    "NameError",
    "name 'time' is not defined",
    ("tests/test_clock.py", 5),
    ("clock.py", 6),
)

DATES = {
    "dates.py": "def parse(text):\n    return datetime.date.fromisoformat(text)\n",
    "tests/test_dates.py": "from dates import parse\n\n\ndef test_parse():\n    assert parse('2024-01-02').day == 2\n",
}
DATES_FAILURE = (
    "NameError",
    "name 'datetime' is not defined",
    ("tests/test_dates.py", 5),
    ("dates.py", 2),
)
