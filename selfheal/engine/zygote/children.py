"""Forked children: limits, a pipe for their JSON records, and a loop that runs them."""

import gc
import json
import os
import resource
import select
import signal
import time


class AlarmTimeout(Exception):
    """Raised by the per-test alarm inside a child."""


def _alarm(signum, frame):
    raise AlarmTimeout("test timed out")


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


def start_child(work, timeout, memory_mb, exiting, patience=3.0):
    """A new Child, waiting up to `patience` seconds while a killed fork bomb's processes (still
    counted against the sandbox's process limit) go away. None if it never works."""
    give_up = time.monotonic() + patience
    while True:
        try:
            return Child(work, timeout, memory_mb)
        except (BlockingIOError, OSError):
            if time.monotonic() > give_up:
                return None
            exiting[:] = reap(exiting, block=False)
            time.sleep(0.05)


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
            child = start_child(work, timeout, memory_mb, exiting)
            if child is None:
                on_record(key, {"error": "cannot fork: the process limit is reached"})
                on_record(key, {"exit": True, "timed_out": False})
                continue
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
