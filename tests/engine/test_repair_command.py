"""`manage.py repair DIR` on the corpus of small buggy projects (tests/corpus/repair), and the
mutation strategy as the auto-fix loop calls it. No test here touches the database."""

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from selfheal.engine.fixers.base import FixContext
from selfheal.engine.fixers.mutation import MutationFixer
from selfheal.engine.repair import load_directory
from selfheal.engine.sandbox import SandboxResult

REPO = Path(__file__).resolve().parent.parent.parent
CORPUS = REPO / "tests" / "corpus" / "repair"
JSON_KEYS = {
    "status", "strategy", "operator", "patch", "plausible_patches", "candidates_tried",
    "test_runs", "seconds", "isolation",
}  # fmt: skip


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def copy_project(tmp_path: Path, name: str) -> Path:
    directory = tmp_path / name
    if name == "syntax_error":  # not kept in the corpus: linters refuse a file that cannot parse
        (directory / "tests").mkdir(parents=True)
        (directory / "broken.py").write_text("def double(x)\n    return x * 2\n")
        (directory / "tests" / "test_broken.py").write_text(
            "from broken import double\n\n\ndef test_double():\n    assert double(2) == 4\n"
        )
        return directory
    shutil.copytree(CORPUS / name, directory)
    return directory


def repair_command(directory: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("repair", str(directory), *args, stdout=out)
    return exited.value.code, out.getvalue()


def repair_json(directory: Path, *args: str) -> tuple[int, dict]:
    code, output = repair_command(directory, "--json", *args)
    return code, json.loads(output)


def test_fixes_an_off_by_one_and_leaves_the_directory_alone(tmp_path):
    directory = copy_project(tmp_path, "off_by_one")
    before = snapshot(directory)
    code, result = repair_json(directory, "--budget-seconds", "30")
    assert code == 0, result
    assert JSON_KEYS <= set(result)
    assert result["status"] == "fixed" and result["strategy"] == "mutation"
    assert "-    for i in range(1, len(orders)):" in result["patch"]
    assert "+    for i in range(len(orders)):" in result["patch"] or (
        "+    for i in range(0, len(orders)):" in result["patch"]
    )
    assert result["patch"].startswith("diff --git a/orders.py b/orders.py")
    assert result["plausible_patches"][0]["patch"] == result["patch"]
    assert result["candidates_tried"] >= 1
    assert result["test_runs"] >= result["candidates_tried"] + 1  # the baseline, then each one
    assert result["isolation"] in ("bwrap", "bwrap-noproc", "landlock")
    assert sorted(result["failing_tests"]) == [
        "tests/test_orders.py::test_average_of_equal_orders",
        "tests/test_orders.py::test_average_of_mixed_orders",
    ]
    assert result["suspicious_lines"][0][0] == "orders.py"
    assert snapshot(directory) == before  # no --write: nothing changed


def test_write_applies_the_fix_and_says_so(tmp_path):
    directory = copy_project(tmp_path, "wrong_comparison")
    code, output = repair_command(directory, "--write", "--budget-seconds", "30")
    assert code == 0, output
    assert output.startswith("fixed: fixed by relational")
    assert "written to" in output and "shipping.py" in output
    fixed = (directory / "shipping.py").read_text()
    assert "    if total >= FREE_SHIPPING_FROM:\n" in fixed
    assert "# Orders of FREE_SHIPPING_FROM or more ship for free." in fixed  # comments kept
    assert (directory / "tests" / "test_shipping.py").read_bytes() == (
        CORPUS / "wrong_comparison" / "tests" / "test_shipping.py"
    ).read_bytes()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("endless_loop", "+        n -= 1"),  # the unchanged code loops forever
        ("package_import", "+    return price * (100 - percent) / 100"),
    ],
)
def test_fixes_corpus_projects(tmp_path, name, expected):
    directory = copy_project(tmp_path, name)
    code, result = repair_json(directory, "--budget-seconds", "30")
    assert code == 0, result
    assert expected in result["patch"]


def test_a_suite_run_by_its_own_command(tmp_path):
    directory = copy_project(tmp_path, "command_suite")
    code, result = repair_json(
        directory, "--test-command", "python run_tests.py", "--budget-seconds", "40"
    )
    assert code == 0, result
    assert '+    return text.upper() + "!"' in result["patch"]
    assert "run_tests.py" not in result["patch"]  # the test runner is never a target


def test_not_fixed_within_the_budget(tmp_path):
    directory = copy_project(tmp_path, "unfixable")
    before = snapshot(directory)
    code, result = repair_json(directory, "--budget-seconds", "8", "--max-candidates", "40")
    assert code == 1, result
    assert result["status"] == "not_fixed" and result["patch"] == ""
    assert 0 < result["candidates_tried"] <= 40
    assert snapshot(directory) == before


@pytest.mark.parametrize(
    "name, args, status, message",
    [
        ("already_passing", [], "already_passing", "already pass"),
        ("no_tests", [], "error", "no tests found"),
        ("syntax_error", [], "error", "broken.py:1 does not parse"),
        ("off_by_one", ["--test-command", "no-such-command --all"], "error", "not found"),
        ("off_by_one", ["--budget-seconds", "0"], "error", "budget"),
        ("off_by_one", ["--max-candidates", "0"], "error", "at least 1"),
        ("off_by_one", ["--test-command", "pytest 'unbalanced"], "error", "test command"),
    ],
)
def test_bad_input_gets_its_own_status_and_exit_code_2(tmp_path, name, args, status, message):
    directory = copy_project(tmp_path, name)
    before = snapshot(directory)
    code, result = repair_json(directory, "--write", *args)
    assert code == 2
    assert result["status"] == status
    assert message in result["message"]
    assert result["written"] == []
    assert snapshot(directory) == before


def test_a_directory_that_does_not_exist(tmp_path):
    code, result = repair_json(tmp_path / "nowhere")
    assert (code, result["status"]) == (2, "error")
    assert "not a directory" in result["message"]


def test_works_without_a_database(tmp_path):
    directory = copy_project(tmp_path, "wrong_comparison")
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
    }
    completed = subprocess.run(
        [sys.executable, "manage.py", "repair", str(directory), "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["status"] == "fixed"


def test_the_mutation_fixer_proposes_validated_patches_best_first():
    files = load_directory(CORPUS / "missing_guard")
    context = FixContext(
        files=files,
        changed_paths=["stats.py"],
        test_command="python -m pytest -q",
        test_result=SandboxResult(1, False, "", "", 0.2, "bwrap"),
        reports=[],
        classifications=[],
        budget_seconds=30,
    )
    candidates = MutationFixer().propose(context)
    assert candidates, "the guard `if not values: return 0` passes both tests"
    best = candidates[0]
    assert best.strategy == "mutation" and best.validated and best.rule
    (edit,) = best.patch.edits
    assert edit.path == "stats.py" and edit.action == "modify"
    assert edit.base_content == files["stats.py"]
    assert "if not values: return 0" in edit.content
    assert best.patch.apply(files)["stats.py"] == edit.content
    assert [c.confidence for c in candidates] == sorted(
        (c.confidence for c in candidates), reverse=True
    )
