"""Run untrusted code isolated (issue 2, item 5).

`files` are written into a fresh directory and the command runs there under the strongest isolation
this machine allows, detected once and recorded on every result:

- "bwrap": bubblewrap with its own network (loopback only: PostgreSQL and Redis are unreachable),
  PID, IPC and mount namespaces. Only /usr, the interpreter's installation (read-only), size-capped
  /tmp and /dev/shm, and the project (read-write, at /sandbox/project) are visible: no host /proc,
  /etc, /root or /var/run.
- "bwrap-noproc": the same without a /proc (some containers refuse to mount one).
- "landlock": no namespaces; Landlock limits reads, writes and TCP. Weaker: see `landlock.py`.
- "unsafe-rlimits": resource limits only. The runner refuses it unless `allow_unsafe`.

In every mode the environment is scrubbed before anything starts (bwrap's PID 1 keeps its own
environment, readable at /proc/1/environ), rlimits cap CPU, memory, open files, file size and
processes, output goes to capped files, and a wall-clock timeout kills the whole process tree.
When the service runs as root the command runs as a fresh unprivileged uid, because RLIMIT_NPROC
does not bind uid 0 and a fork bomb would otherwise be limited by nothing.

Set SELFHEAL_SANDBOX_ISOLATION (or pass `max_level`) to start the fallback chain lower down.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import secrets
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from selfheal.engine import landlock
from selfheal.engine.junit import JUnitError, TestCaseResult, parse_junit
from selfheal.engine.sandbox_files import (
    UnsafePath,
    chown_tree,
    materialise,
    read_capped_output,
    read_result_file,
)

__all__ = ["TestCaseResult", "UnsafePath", "materialise", "read_result_file"]  # re-exported

LEVELS = ("bwrap", "bwrap-noproc", "landlock", "unsafe-rlimits")  # strongest first
MAX_LEVEL_ENV = "SELFHEAL_SANDBOX_ISOLATION"  # e.g. "landlock": never try anything stronger
BWRAP = "/usr/bin/bwrap"
SETPRIV = "/usr/bin/setpriv"
PRLIMIT = "/usr/bin/prlimit"
CHOOM = "/usr/bin/choom"
PROJECT_MOUNT = "/sandbox/project"
MiB = 1024 * 1024

# Limits are per process: when many sandboxed processes together exhaust the machine's memory,
# the kernel must kill them first, not PostgreSQL or the service.
_OOM_SCORE_ADJ = 1000
# A fresh uid per run: RLIMIT_NPROC counts every process of a uid, so runs must not share one.
_UID_BASE, _UID_SPAN = 1_900_000_000, 100_000_000

_DESCRIPTIONS = {
    "bwrap": "bubblewrap: no network, own PID/IPC/mount namespaces, read-only system, fresh /proc",
    "bwrap-noproc": "bubblewrap without /proc: no network, own PID/IPC/mount namespaces",
    "landlock": "Landlock: reads and writes limited by path, no TCP; no namespaces, so pathname "
    "UNIX sockets stay reachable",
    "unsafe-rlimits": "resource limits only: the code could read and reach what the service can",
}


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
    tmpfs_mb: int = 256  # each of /tmp and /dev/shm
    result_bytes: int = 8 * MiB  # a result file (JUnit XML) larger than this is ignored


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


def detect_isolation(max_level: str | None = None, interpreter: str | None = None) -> Isolation:
    """Probe (once, cached) which isolation works on this machine, starting at `max_level`
    (default: $SELFHEAL_SANDBOX_ISOLATION, else the strongest)."""
    ceiling = max_level or os.environ.get(MAX_LEVEL_ENV) or LEVELS[0]
    if ceiling not in LEVELS:
        raise ValueError(f"unknown isolation level {ceiling!r}; choose one of {', '.join(LEVELS)}")
    return _detect(ceiling, interpreter or sys.executable)


@functools.lru_cache
def _detect(ceiling: str, interpreter: str) -> Isolation:
    refused: list[str] = []
    for level in LEVELS[LEVELS.index(ceiling) :]:
        problem = None if level == "unsafe-rlimits" else _probe(level, interpreter)
        if problem is None:
            return Isolation(level, "; ".join([_DESCRIPTIONS[level], *refused]))
        refused.append(f"{level} refused ({problem})")
    raise AssertionError("unreachable: unsafe-rlimits always works")


def _probe(level: str, interpreter: str) -> str | None:
    """Why `level` does not work here, or None when the interpreter starts under it."""
    if level.startswith("bwrap") and not os.access(BWRAP, os.X_OK):
        return f"{BWRAP} is not installed"
    if level == "landlock" and landlock.abi_version() < 1:
        return "Landlock is not enabled in this kernel"
    result, _ = _run(level, interpreter, {}, [interpreter, "-c", "pass"], SandboxLimits(), ())
    if result.exit_code == 0:
        return None
    reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return f"exit {result.exit_code}: {reason}"


def run_in_sandbox(
    files: dict[str, str],
    command: list[str] | str,
    limits: SandboxLimits | None = None,
    allow_unsafe: bool = False,
    result_files: tuple[str, ...] = (),
    max_level: str | None = None,
    interpreter: str | None = None,
) -> tuple[SandboxResult, dict[str, bytes]]:
    """Materialise `files` into a fresh directory, run `command` there isolated, and return the
    result plus the named `result_files` the run wrote (read safely: O_NOFOLLOW, regular, capped).

    `interpreter` is the Python whose installation is made visible (default: the service's own)."""
    interpreter = interpreter or sys.executable
    isolation = detect_isolation(max_level, interpreter)
    if isolation.level == "unsafe-rlimits" and not allow_unsafe:
        raise SandboxRefused(f"no safe isolation on this machine: {isolation.detail}")
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if not argv:
        raise ValueError("empty command")
    return _run(isolation.level, interpreter, files, argv, limits or SandboxLimits(), result_files)


def run_tests_in_sandbox(
    files: dict[str, str],
    test_command: str,
    limits: SandboxLimits | None = None,
    allow_unsafe: bool = False,
    max_level: str | None = None,
    interpreter: str | None = None,
) -> SandboxResult:
    """Run the project's test command (pytest gets --junitxml) and fill `tests` from the JUnit XML."""
    argv = shlex.split(test_command)
    # An unguessable name, so a proposal cannot ship a ready-made "all passed" report.
    junit = f".selfheal-junit-{secrets.token_hex(8)}.xml"
    if any("pytest" in token for token in argv):
        argv += [f"--junitxml={junit}", "-o", "junit_family=xunit1", "-p", "no:cacheprovider"]
    result, collected = run_in_sandbox(
        files, argv, limits, allow_unsafe, (junit,), max_level, interpreter
    )
    if junit in collected:
        try:
            result.tests = parse_junit(collected[junit])
            result.junit_found = True
        except JUnitError as exc:
            result.stderr += f"\n[sandbox] {exc}\n"
    return result


def _run(
    level: str,
    interpreter: str,
    files: dict[str, str],
    argv: list[str],
    limits: SandboxLimits,
    result_files: tuple[str, ...],
) -> tuple[SandboxResult, dict[str, bytes]]:
    uid = _UID_BASE + secrets.randbelow(_UID_SPAN) if os.geteuid() == 0 else None
    if level == "unsafe-rlimits":
        uid = None  # another uid may not reach the interpreter; this mode is unsafe anyway
    root = Path(tempfile.mkdtemp(prefix="selfheal-sandbox-"))
    try:
        os.chmod(root, 0o711)  # the sandbox uid must pass through to its project directory
        project, tmp = root / "project", root / "tmp"
        materialise(files, project)
        tmp.mkdir(mode=0o700)
        if uid is not None:
            chown_tree(project, uid)
            os.chown(tmp, uid, uid)
            # bwrap enters the project as a root without capabilities, the command as `uid`.
            os.chown(project, 0, uid)
            os.chmod(project, 0o770)
        if level.startswith("bwrap"):
            command = _bwrap_argv(level, interpreter, project, argv, limits, uid)
            cwd, env, preexec = None, _scrubbed_env(interpreter, "/tmp"), None
        else:
            ruleset = _landlock_paths(interpreter, project, tmp) if level == "landlock" else None
            command, cwd, env = argv, project, _scrubbed_env(interpreter, str(tmp))
            preexec = _limiter(limits, uid, ruleset)
        with open(root / "stdout", "w+b") as stdout, open(root / "stderr", "w+b") as stderr:
            started = time.monotonic()
            exit_code, timed_out = _execute(command, cwd, env, preexec, stdout, stderr, limits)
            if uid is not None and not level.startswith("bwrap"):
                _kill_uid(uid)  # without a PID namespace, double-forked children outlive the group
            duration = time.monotonic() - started
            out, out_cut = read_capped_output(stdout, limits.output_bytes)
            err, err_cut = read_capped_output(stderr, limits.output_bytes)
        collected: dict[str, bytes] = {}
        for name in result_files:
            try:
                data = read_result_file(project, name, limits.result_bytes)
            except UnsafePath as exc:
                err += f"\n[sandbox] {exc}\n"
                continue
            if data is not None:
                collected[name] = data
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = SandboxResult(
        exit_code=exit_code,
        timed_out=timed_out,
        stdout=out,
        stderr=err,
        duration=duration,
        isolation=level,
        output_truncated=out_cut or err_cut,
    )
    return result, collected


def _bwrap_argv(
    level: str,
    interpreter: str,
    project: Path,
    argv: list[str],
    limits: SandboxLimits,
    uid: int | None,
) -> list[str]:
    args = [BWRAP, "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if uid is None:  # not root: everything, including an unprivileged user namespace
        args += ["--unshare-all"]
    else:
        # As root, no user namespace: inside one, uid 65534 would still be uid 0 to the kernel
        # (and exempt from RLIMIT_NPROC). setpriv switches to a real unprivileged uid instead.
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        args += ["--unshare-cgroup-try", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        args += ["--cap-add", "CAP_SETPCAP"]  # to empty the bounding set
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--dev", "/dev"]
    if level == "bwrap":
        args += ["--proc", "/proc"]
    for scratch in ("/tmp", "/dev/shm"):  # /dev/shm: multiprocessing's semaphores live there
        args += ["--size", str(limits.tmpfs_mb * MiB), "--perms", "1777", "--tmpfs", scratch]
    # The interpreter is bound after the scratch mounts: a checkout under /tmp (as CI's may be)
    # would otherwise be hidden by the sandbox's own /tmp.
    made: set[str] = {"/", "/usr", "/tmp", "/dev"}
    for prefix in _interpreter_prefixes(interpreter):
        for parent in reversed(Path(prefix).parents):
            if str(parent) not in made:
                made.add(str(parent))
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", prefix, prefix]
    args += ["--perms", "0755", "--dir", "/sandbox", "--bind", str(project), PROJECT_MOUNT]
    args += ["--remount-ro", "/", "--chdir", PROJECT_MOUNT, "--hostname", "sandbox", "--"]
    # Limits are set inside: a preexec_fn would make Popen fork the whole service (slow).
    args += [PRLIMIT, *(f"--{name}={soft}:{hard}" for name, soft, hard in _rlimits(limits)), "--"]
    if level == "bwrap":  # needs /proc
        args += [CHOOM, "-n", str(_OOM_SCORE_ADJ), "--"]
    if uid is not None:
        args += [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        args += ["--inh-caps=-all", "--bounding-set=-all", "--"]
    return args + argv


def _interpreter_prefixes(interpreter: str) -> list[str]:
    """The installation directories the interpreter needs: its virtualenv and the Python it was
    made from (e.g. .venv and ~/.pyenv/versions/3.11.7). /usr is always visible anyway."""
    prefixes = set()
    for path in (Path(interpreter).absolute(), Path(os.path.realpath(interpreter))):
        prefix = path.parent.parent
        if prefix != Path("/usr") and Path("/usr") not in prefix.parents and len(prefix.parts) > 1:
            prefixes.add(str(prefix))
    return sorted(prefixes)


def _landlock_paths(interpreter: str, project: Path, tmp: Path) -> tuple[list[str], list[str]]:
    reads = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/dev/urandom", "/dev/zero"]
    reads += _interpreter_prefixes(interpreter)
    return reads, [str(project), str(tmp), "/dev/null"]


def _scrubbed_env(interpreter: str, tmp: str) -> dict[str, str]:
    return {
        "PATH": f"{Path(interpreter).absolute().parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": tmp,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",  # what a killed run printed is kept
        # The interpreter is the service's: its own pytest plugins (django, playwright) are not the
        # project's and cost a second per run. A project that needs one names it: `-p plugin`.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


_RESOURCES = {
    "cpu": resource.RLIMIT_CPU,
    "as": resource.RLIMIT_AS,
    "nofile": resource.RLIMIT_NOFILE,
    "fsize": resource.RLIMIT_FSIZE,
    "nproc": resource.RLIMIT_NPROC,
    "core": resource.RLIMIT_CORE,
}


def _rlimits(limits: SandboxLimits) -> list[tuple[str, int, int]]:
    """(prlimit's name, soft, hard) for every limit; CPU gets SIGXCPU a second before SIGKILL."""
    memory, file_size = limits.memory_mb * MiB, limits.file_size_mb * MiB
    return [
        ("cpu", limits.cpu_seconds, limits.cpu_seconds + 1),
        ("as", memory, memory),
        ("nofile", limits.open_files, limits.open_files),
        ("fsize", file_size, file_size),
        ("nproc", limits.processes, limits.processes),
        ("core", 0, 0),
    ]


def _limiter(
    limits: SandboxLimits,
    uid: int | None = None,
    landlock_paths: tuple[list[str], list[str]] | None = None,
) -> Callable[[], None]:
    """The function the child runs between fork and exec (without bwrap)."""
    rlimits = [(_RESOURCES[name], soft, hard) for name, soft, hard in _rlimits(limits)]

    def limit_child() -> None:
        for which, soft, hard in rlimits:
            resource.setrlimit(which, (soft, hard))
        try:
            with open("/proc/self/oom_score_adj", "w") as oom:
                oom.write(str(_OOM_SCORE_ADJ))
        except OSError:
            pass  # no /proc: the kernel falls back to its own scoring
        ruleset = landlock.build_ruleset(*landlock_paths) if landlock_paths else None
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        if ruleset is not None:
            landlock.restrict_self(ruleset)

    return limit_child


def _execute(
    command: list[str],
    cwd: Path | None,
    env: dict[str, str],
    preexec: Callable[[], None] | None,
    stdout: BinaryIO,
    stderr: BinaryIO,
    limits: SandboxLimits,
) -> tuple[int | None, bool]:
    """Run to completion or to the wall-clock limit; return (exit code, timed out)."""
    info_read, info_write = os.pipe() if command[0] == BWRAP else (None, None)
    if info_read is not None:  # bwrap reports its namespace's PID 1, which we kill on timeout
        command = [BWRAP, "--info-fd", str(info_write), *command[1:]]
    try:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            preexec_fn=preexec,
            start_new_session=True,
            pass_fds=(info_write,) if info_write is not None else (),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        stderr.write(f"[sandbox] cannot start {command[0]}: {exc}\n".encode())
        if info_read is not None:
            os.close(info_read)
        return 127, False
    finally:
        if info_write is not None:
            os.close(info_write)
    namespace_init = _child_pid(info_read) if info_read is not None else None
    if _exited_within(process.pid, limits.wall_seconds):
        return process.wait(), False
    # Killing the namespace's PID 1 makes the kernel kill everything in it; bwrap, waiting for
    # it, exits only once they are all gone. Without a namespace, kill the process group.
    if namespace_init is not None:
        _kill(namespace_init)
        if _exited_within(process.pid, 10):
            process.wait()
            return None, True
    _kill(-process.pid)
    process.wait()
    return None, True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _exited_within(pid: int, seconds: float) -> bool:
    """Wait for the process to end; a pidfd wakes us the moment it does (Popen.wait polls)."""
    pidfd = os.pidfd_open(pid)
    try:
        readable, _, _ = select.select([pidfd], [], [], seconds)
    finally:
        os.close(pidfd)
    return bool(readable)


def _child_pid(info_fd: int) -> int | None:
    with os.fdopen(info_fd, "rb") as info:  # bwrap closes it right after writing
        try:
            return int(json.loads(info.read(4096))["child-pid"])
        except (ValueError, KeyError, TypeError):
            return None


def _kill_uid(uid: int) -> None:
    """Kill every process still running as the run's private uid."""
    for _ in range(100):
        pids = map(int, filter(str.isdigit, os.listdir("/proc")))
        alive = [pid for pid in pids if _is_alive_as(pid, uid)]
        if not alive:
            return
        for pid in alive:
            _kill(pid)
        time.sleep(0.01)


def _is_alive_as(pid: int, uid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
    except OSError:
        return False
    zombie = fields["State"].strip().startswith("Z")  # already dead, waiting for its parent
    return not zombie and int(fields["Uid"].split()[0]) == uid
