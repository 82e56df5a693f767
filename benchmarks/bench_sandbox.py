"""The sandbox's overhead against bare pytest on the same 20 tiny tests (median of several runs).

.venv/bin/python benchmarks/bench_sandbox.py
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from selfheal.engine.sandbox import (  # noqa: E402
    detect_isolation,
    materialise,
    run_in_sandbox,
    run_tests_in_sandbox,
)

RUNS = 5
PROJECT = {"calc.py": "def add(a, b):\n    return a + b\n"}
for module in range(4):
    PROJECT[f"tests/test_calc_{module}.py"] = "from calc import add\n" + "".join(
        f"\n\ndef test_add_{n}():\n    assert add({n}, {module}) == {n + module}\n"
        for n in range(5)
    )
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1"]
# The same pytest work on both sides: the sandbox turns off plugin autoload, so bare runs do too.
ENV = {
    "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
}


def bare_pytest(directory: Path) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, *PYTEST, "--junitxml=.junit.xml"],
        cwd=directory,
        env=ENV,
        capture_output=True,
    )
    assert completed.returncode == 0, completed.stdout
    return time.perf_counter() - started


def sandboxed_pytest() -> float:
    started = time.perf_counter()
    result = run_tests_in_sandbox(PROJECT, "python -m pytest -q")
    assert result.passed and len(result.tests) == 20, result.stdout + result.stderr
    return time.perf_counter() - started


def bare_python() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=ENV, check=True)
    return time.perf_counter() - started


def sandboxed_python() -> float:
    started = time.perf_counter()
    result, _ = run_in_sandbox({}, ["python", "-c", "pass"])
    assert result.exit_code == 0, result.stderr
    return time.perf_counter() - started


def compare(label: str, bare, sandboxed, runs: int) -> None:
    bare_times, sandbox_times = [], []
    for _ in range(runs):  # interleaved, so machine noise hits both alike
        bare_times.append(bare())
        sandbox_times.append(sandboxed())
    bare_median, sandbox_median = statistics.median(bare_times), statistics.median(sandbox_times)
    print(
        f"  {label:28} bare {bare_median * 1000:8.1f} ms   sandbox {sandbox_median * 1000:8.1f} ms"
        f"   overhead {(sandbox_median - bare_median) * 1000:+7.1f} ms"
        f"   ratio {sandbox_median / bare_median:5.3f}"
    )


def main() -> None:
    started = time.perf_counter()
    isolation = detect_isolation()
    print(f"Isolation: {isolation.level} (detected in {time.perf_counter() - started:.2f} s)")
    print(f"  {isolation.detail}")
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "project"
        materialise(PROJECT, directory)
        bare_pytest(directory), sandboxed_pytest()  # warm the page cache for both
        print(f"Median of {RUNS} runs:")
        compare("pytest, 20 tests", lambda: bare_pytest(directory), sandboxed_pytest, RUNS)
        compare("python -c pass", bare_python, sandboxed_python, 3 * RUNS)


if __name__ == "__main__":
    main()
