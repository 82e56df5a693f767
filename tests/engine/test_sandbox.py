"""The sandbox runs hostile code and the service (this test process) stays unharmed.

No database: every test here is pure engine. The hostile scripts print what they managed to do and
the assertions read that output; each also checks on the host that nothing escaped.
"""

import os
import secrets
import socket
import sys
import textwrap
from pathlib import Path

import pytest

import selfheal.engine.sandbox as sandbox_module
from selfheal.engine.sandbox import (
    SandboxLimits,
    SandboxRefused,
    UnsafePath,
    detect_isolation,
    materialise,
    run_in_sandbox,
    run_tests_in_sandbox,
)

STRONGEST = detect_isolation()
needs_bwrap = pytest.mark.skipif(
    not STRONGEST.level.startswith("bwrap"), reason=f"no bubblewrap here: {STRONGEST.detail}"
)
SYSTEM_PYTHON = "/usr/bin/python3"
QUICK = SandboxLimits(wall_seconds=20)


def run_script(code: str, limits: SandboxLimits = QUICK, python: str = "python", **options):
    """Run `code` as hostile.py; its argv carries a marker to find its processes on the host."""
    marker = f"selfheal-test-{secrets.token_hex(6)}"
    result, collected = run_in_sandbox(
        {"hostile.py": textwrap.dedent(code)}, [python, "hostile.py", marker], limits, **options
    )
    return result, collected, marker


def host_processes_with(marker: str) -> list[int]:
    """Live (non-zombie) processes on the host whose command line contains `marker`."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            state = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(name))
    return found


def host_can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


CALCULATOR = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": textwrap.dedent(
        """\
        from calc import add

        def test_add():
            assert add(2, 3) == 5

        class TestNegative:
            def test_add_negative(self):
                assert add(-1, -1) == -2
        """
    ),
}


# --- per-test results from real pytest runs -------------------------------------------------------


def test_passing_project_reports_every_test_as_passed():
    files = {**CALCULATOR, "tests/test_io.py": textwrap.dedent(
        """\
        import multiprocessing

        def square(x):
            return x * x

        def test_tmp_path_and_a_process_pool(tmp_path):
            (tmp_path / "out.txt").write_text("ok")
            with multiprocessing.Pool(2) as pool:
                assert pool.map(square, [1, 2, 3]) == [1, 4, 9]
        """
    )}  # fmt: skip

    result = run_tests_in_sandbox(files, "python -m pytest -q")

    assert result.passed, result.stdout + result.stderr
    assert result.isolation == STRONGEST.level
    assert result.junit_found
    assert {(t.name, t.outcome) for t in result.tests} == {
        ("tests/test_calc.py::test_add", "passed"),
        ("tests/test_calc.py::TestNegative::test_add_negative", "passed"),
        ("tests/test_io.py::test_tmp_path_and_a_process_pool", "passed"),
    }
    assert "3 passed" in result.stdout


def test_failing_project_reports_which_test_failed_and_why():
    files = {**CALCULATOR, "calc.py": "def add(a, b):\n    return a - b\n"}
    files["tests/test_other.py"] = "def test_fine():\n    pass\n"

    result = run_tests_in_sandbox(files, "python -m pytest -q")

    assert not result.passed
    assert result.exit_code == 1
    outcomes = {t.name: t.outcome for t in result.tests}
    assert outcomes == {
        "tests/test_calc.py::test_add": "failed",
        "tests/test_calc.py::TestNegative::test_add_negative": "failed",
        "tests/test_other.py::test_fine": "passed",
    }
    failure = next(t for t in result.failed_tests if t.name.endswith("::test_add"))
    assert failure.message == "assert -1 == 5"
    assert "assert add(2, 3) == 5" in failure.details
    assert (failure.file, failure.line) == ("tests/test_calc.py", 3)
    assert "FAILED tests/test_calc.py::test_add" in result.stdout


def test_collection_error_is_kept_as_an_error_result():
    files = {**CALCULATOR, "tests/test_broken.py": "from calc import subtract\n"}

    result = run_tests_in_sandbox(files, "python -m pytest -q")

    assert not result.passed
    [error] = result.failed_tests
    assert (error.name, error.outcome) == ("tests/test_broken.py", "error")
    assert "ImportError: cannot import name 'subtract'" in error.details


def test_command_that_is_not_pytest_runs_without_junit():
    result = run_tests_in_sandbox({"check.py": "print('ok')\n"}, "python check.py")

    assert result.passed and not result.junit_found and result.tests == []
    assert result.stdout == "ok\n"


# --- hostile proposals -----------------------------------------------------------------------------


def test_infinite_loop_is_killed_with_its_whole_process_tree():
    result, _, marker = run_script(
        """\
        import os, time
        if os.fork() == 0:          # a grandchild in its own session, orphaned: the classic escape
            os.setsid()
            if os.fork() == 0:
                time.sleep(120)
            os._exit(0)
        while True:
            pass
        """,
        SandboxLimits(wall_seconds=1.5),
    )

    assert result.timed_out and result.exit_code is None and not result.passed
    assert 1.5 <= result.duration < 6
    assert host_processes_with(marker) == []


@needs_bwrap
def test_fork_bomb_hits_the_process_limit_and_leaves_nothing_behind():
    result, _, marker = run_script(
        """\
        import os, time
        children = 0
        while children < 1000:
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(120)
            children += 1
        print("children", children)
        """,
        SandboxLimits(processes=16, wall_seconds=20),
    )

    assert not result.timed_out
    assert 0 < int(result.stdout.split()[-1]) < 16
    assert host_processes_with(marker) == []


@needs_bwrap
def test_exponential_fork_bomb_is_contained_until_the_wall_clock():
    result, _, marker = run_script(
        """\
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """,
        SandboxLimits(processes=16, wall_seconds=2),
    )

    assert result.timed_out and result.duration < 8
    assert host_processes_with(marker) == []
    assert os.system("true") == 0  # the service can still start processes


def test_memory_bomb_gets_memory_error():
    result, _, _ = run_script(
        """\
        hoard = []
        while True:
            hoard.append(bytearray(16 * 1024 * 1024))
        """,
        SandboxLimits(memory_mb=256, wall_seconds=20),
    )

    assert result.exit_code == 1 and not result.timed_out
    assert "MemoryError" in result.stderr


def test_sandboxed_processes_are_the_first_the_oom_killer_picks():
    result, _, _ = run_script('print(open("/proc/self/oom_score_adj").read())')

    if result.isolation != "bwrap":
        pytest.skip(f"the sandbox cannot read its /proc under {result.isolation}")
    assert result.stdout.strip() == "1000", result.stderr


@needs_bwrap
def test_databases_are_unreachable_by_tcp_and_unix_socket():
    if not (host_can_connect(5432) and host_can_connect(6379)):
        pytest.skip("PostgreSQL and Redis are not both listening here: nothing to prove")
    result, _, _ = run_script(
        """\
        import socket
        for port in (5432, 6379):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                print(port, "reached")
            except OSError as exc:
                print(port, "blocked", type(exc).__name__)
        try:
            unix = socket.socket(socket.AF_UNIX)
            unix.connect("/var/run/postgresql/.s.PGSQL.5432")
            print("unix reached")
        except OSError as exc:
            print("unix blocked", type(exc).__name__)
        """
    )

    assert result.exit_code == 0, result.stderr
    assert "reached" not in result.stdout
    assert result.stdout.count("blocked") == 3


@needs_bwrap
def test_secrets_in_the_service_environment_are_not_visible(monkeypatch):
    secret = f"sk-{secrets.token_hex(12)}"
    monkeypatch.setenv("SECRET_KEY", secret)
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{secret}@127.0.0.1/app")
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)

    result, _, _ = run_script(
        """\
        import os
        print(dict(os.environ))
        for name in os.listdir("/proc"):
            if name.isdigit() or name == "self":
                try:
                    print(name, open(f"/proc/{name}/environ", "rb").read())
                except OSError as exc:
                    print(name, "unreadable", exc)
        """
    )

    assert result.exit_code == 0, result.stderr
    assert "'HOME': '/tmp'" in result.stdout  # the script did print its environment
    assert secret not in result.stdout + result.stderr
    assert "SECRET_KEY" not in result.stdout and "DATABASE_URL" not in result.stdout


@needs_bwrap
def test_writes_outside_the_project_do_not_reach_the_host():
    token = secrets.token_hex(6)
    targets = [f"/work/escape-{token}", f"/root/escape-{token}", f"/tmp/escape-{token}"]
    targets.append(str(Path(sys.prefix) / f"escape-{token}"))  # the read-only virtualenv
    code = f"targets = {targets!r}\n" + textwrap.dedent(
        """\
        for target in targets:
            try:
                with open(target, "w") as handle:
                    handle.write("escaped")
                print(target, "written inside")
            except OSError as exc:
                print(target, "refused", type(exc).__name__)
        open("inside.txt", "w").write("fine")
        print("project writable")
        """
    )

    result, collected = run_in_sandbox(
        {"hostile.py": code}, ["python", "hostile.py"], QUICK, result_files=("inside.txt",)
    )

    assert result.exit_code == 0, result.stderr
    assert "project writable" in result.stdout and collected == {"inside.txt": b"fine"}
    assert f"/work/escape-{token} refused" in result.stdout
    assert f"{sys.prefix}/escape-{token} refused" in result.stdout
    for target in targets:
        assert not os.path.exists(target), target


@needs_bwrap
def test_host_files_are_not_visible():
    own_source = sandbox_module.__file__
    private = ["/etc/shadow", "/etc/passwd", own_source, "/var/run/postgresql", "/root/.bashrc"]
    assert os.path.exists(own_source) and os.path.exists("/etc/passwd")
    code = f"paths = {private!r}\n" + textwrap.dedent(
        """\
        import os
        for path in paths:
            print(path, "visible" if os.path.exists(path) else "hidden")
        print("root holds", sorted(os.listdir("/root")) if os.path.isdir("/root") else [])
        print("top level", sorted(os.listdir("/")))
        """
    )
    # /root is visible only as far as the path to the interpreter (here ~/.pyenv) goes.
    interpreter_dirs = {
        Path(p).parts[2] for p in (sys.prefix, sys.base_prefix) if p.startswith("/root/")
    }

    result, _ = run_in_sandbox({"hostile.py": code}, ["python", "hostile.py"], QUICK)

    assert result.exit_code == 0, result.stderr
    assert "visible" not in result.stdout
    assert result.stdout.count("hidden") == len(private)
    assert "'etc'" not in result.stdout and "'var'" not in result.stdout
    assert f"root holds {sorted(interpreter_dirs)}" in result.stdout


def test_huge_output_is_capped_keeping_head_and_tail():
    result, _, _ = run_script(
        """\
        print("FIRST LINE")
        for i in range(200_000):
            print("x" * 40)
        print("LAST LINE")
        """,
        SandboxLimits(output_bytes=64 * 1024, wall_seconds=20),
    )

    assert result.exit_code == 0 and result.output_truncated
    assert len(result.stdout) < 64 * 1024 + 200
    assert result.stdout.startswith("FIRST LINE") and result.stdout.endswith("LAST LINE\n")
    assert "bytes cut" in result.stdout


def test_file_size_bomb_stops_at_the_file_size_limit():
    result, _, _ = run_script(
        """\
        import os
        chunk = b"0" * (1024 * 1024)
        with open("bomb.bin", "wb") as handle:
            try:
                for _ in range(200):
                    handle.write(chunk)
                    handle.flush()
            except OSError as exc:
                print("stopped", exc.strerror)
        print("size", os.path.getsize("bomb.bin"))
        """,
        SandboxLimits(file_size_mb=4, wall_seconds=20),
    )

    assert "stopped File too large" in result.stdout, result.stderr
    assert int(result.stdout.split()[-1]) <= 4 * 1024 * 1024


@needs_bwrap
def test_tmp_is_a_size_capped_tmpfs():
    result, _, _ = run_script(
        """\
        try:
            with open("/tmp/fill", "wb") as handle:
                for _ in range(64):
                    handle.write(b"0" * (1024 * 1024))
                    handle.flush()
        except OSError as exc:
            print("stopped", exc.strerror)
        """,
        SandboxLimits(tmpfs_mb=8, wall_seconds=20),
    )

    assert "stopped No space left on device" in result.stdout, result.stderr


def test_planted_links_and_fifos_are_not_read_as_result_files(tmp_path):
    settings_file = tmp_path / "settings.py"
    settings_file.write_text("SECRET_KEY = 'never-read-me'\n")
    code = textwrap.dedent(
        f"""\
        import os
        os.symlink({str(settings_file)!r}, "report.xml")
        os.symlink("/etc", "linked")
        os.mkfifo("pipe.xml")
        os.makedirs("out")
        os.link("hostile.py", "out/hardlink.xml")
        """
    )

    result, collected = run_in_sandbox(
        {"hostile.py": code},
        ["python", "hostile.py"],
        QUICK,
        result_files=("report.xml", "linked/passwd", "pipe.xml", "out/hardlink.xml", "absent.xml"),
    )

    assert result.exit_code == 0, result.stderr
    assert collected == {}
    assert result.stderr.count("refused") == 4
    assert "never-read-me" not in result.stdout + result.stderr


def test_a_test_suite_swapping_its_junit_report_for_a_link_gets_no_results(tmp_path):
    secret_file = tmp_path / "settings.py"
    secret_file.write_text("SECRET_KEY = 'never-read-me'\n")
    conftest = textwrap.dedent(
        f"""\
        import os, sys

        def pytest_unconfigure(config):
            for arg in sys.argv:
                if arg.startswith("--junitxml="):
                    path = arg.split("=", 1)[1]
                    os.remove(path)
                    os.symlink({str(secret_file)!r}, path)
        """
    )

    result = run_tests_in_sandbox({**CALCULATOR, "conftest.py": conftest}, "python -m pytest -q")

    assert not result.junit_found and result.tests == []
    assert "refused" in result.stderr
    assert "never-read-me" not in result.stdout + result.stderr


# --- files in ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../outside.py", "pkg/../../outside.py", "nul\x00.py", "", ".", "a/.."]
)
def test_paths_that_leave_the_project_are_refused(tmp_path, name):
    with pytest.raises(UnsafePath):
        materialise({name: "x"}, tmp_path / "project")


def test_clashing_paths_are_refused(tmp_path):
    with pytest.raises(UnsafePath, match="clashes"):
        materialise({"pkg": "x", "pkg/mod.py": "y"}, tmp_path / "project")


def test_files_land_in_nested_directories(tmp_path):
    materialise({"pkg/sub/mod.py": "x = 1\n", "./top.py": ""}, tmp_path / "project")

    assert (tmp_path / "project/pkg/sub/mod.py").read_text() == "x = 1\n"
    assert (tmp_path / "project/top.py").exists()


def test_bad_paths_are_refused_before_anything_runs():
    with pytest.raises(UnsafePath):
        run_in_sandbox({"../escape.py": "print(1)"}, ["python", "-c", "pass"])


# --- fallbacks ---------------------------------------------------------------------------------------


def test_only_rlimits_left_means_refusal_unless_unsafe_is_allowed(monkeypatch):
    with pytest.raises(SandboxRefused, match="no safe isolation"):
        run_in_sandbox({}, ["python", "-c", "pass"], max_level="unsafe-rlimits")

    monkeypatch.setenv("SELFHEAL_SANDBOX_ISOLATION", "unsafe-rlimits")
    assert detect_isolation().level == "unsafe-rlimits"
    with pytest.raises(SandboxRefused):
        run_tests_in_sandbox(CALCULATOR, "python -m pytest -q")

    result, _ = run_in_sandbox({}, ["python", "-c", "print('ran')"], allow_unsafe=True)
    assert (result.isolation, result.stdout) == ("unsafe-rlimits", "ran\n")


def test_unknown_isolation_level_is_an_error():
    with pytest.raises(ValueError, match="unknown isolation level"):
        detect_isolation("chroot")


@needs_bwrap
def test_bwrap_without_proc_still_isolates():
    result, _, _ = run_script(
        """\
        import os, socket
        print("proc", os.path.exists("/proc/1"))
        try:
            socket.create_connection(("127.0.0.1", 5432), timeout=2)
            print("reached")
        except OSError:
            print("blocked")
        """,
        max_level="bwrap-noproc",
    )

    assert result.isolation == "bwrap-noproc"
    assert result.stdout == "proc False\nblocked\n", result.stderr


LANDLOCK = detect_isolation("landlock", SYSTEM_PYTHON) if os.path.exists(SYSTEM_PYTHON) else None


@pytest.mark.skipif(
    LANDLOCK is None or LANDLOCK.level != "landlock",
    reason=f"Landlock fallback unavailable: {LANDLOCK and LANDLOCK.detail}",
)
def test_landlock_fallback_blocks_writes_reads_and_tcp_and_reaps_escaped_children():
    token = secrets.token_hex(6)
    outside = f"/tmp/escape-{token}"
    result, collected, marker = run_script(
        f"""\
        import os, socket, time
        for path in ({outside!r}, "/work/escape-{token}"):
            try:
                open(path, "w").write("escaped")
                print("wrote", path)
            except OSError as exc:
                print("write refused", type(exc).__name__)
        try:
            open({sandbox_module.__file__!r}).read()
            print("read the service source")
        except OSError as exc:
            print("read refused", type(exc).__name__)
        try:
            socket.create_connection(("127.0.0.1", 5432), timeout=2)
            print("reached")
        except OSError as exc:
            print("tcp refused", type(exc).__name__)
        open("inside.txt", "w").write("fine")
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(120)
            os._exit(0)
        while True:
            pass
        """,
        SandboxLimits(wall_seconds=3),
        python=SYSTEM_PYTHON,
        max_level="landlock",
        interpreter=SYSTEM_PYTHON,
        result_files=("inside.txt",),
    )

    assert result.isolation == "landlock" and result.timed_out
    assert result.stdout.count("write refused") == 2, result.stdout + result.stderr
    assert "read refused" in result.stdout and "tcp refused" in result.stdout
    assert "reached" not in result.stdout
    assert collected == {"inside.txt": b"fine"}
    assert not os.path.exists(outside)
    assert host_processes_with(marker) == []
