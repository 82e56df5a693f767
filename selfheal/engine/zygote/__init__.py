"""The zygote: runs INSIDE one sandbox run and validates many candidates fast.

It imports pytest and collects the project's tests once, then forks: one child per chunk of tests
to measure coverage, one child per candidate to validate it. A child applies its candidate's
source in memory, runs the failing tests first, stops at the first failure, then runs the rest of
the suite. Each test has an alarm, each child CPU and memory limits, and the parent kills a child's
process group when its time is up: a candidate that loops forever costs one timeout and the search
goes on. Everything stays inside the one sandbox run, so the sandbox's guarantees hold for every
child.

Modes (the job's "mode"):
- "coverage": run every test on the unchanged project under a line tracer that splits each test
  into one segment per assert; report outcome, duration, covered lines and crash lines.
- "validate": check the job's candidates.
- "repair": coverage, then localisation, candidate generation (the engine's mutation search,
  shipped into the sandbox as the package `selfheal_mutation`), validation, two-edit
  combinations when no single edit passes, and a fresh pytest run of the best plausible patches.
With "runner": "command" (a suite pytest cannot drive) the test command runs in a subprocess per
candidate and exit code 0 passes.

The service writes JOB_FILE, runs `python LAUNCHER_FILE` and reads RESULTS_FILE: JSON lines,
flushed one by one so a run killed at its wall-clock limit keeps what it found. The records are
untrusted data for the service, which regenerates every candidate itself.

Modules: `main` (entry point), `plugin` (the pytest plugin: coverage and validation), `loop` (the
search: batches, pairs, confirmation), `children` (forking, limits, timeouts), `candidates`
(applying a candidate in memory or on disk), `tracer` (per-assert line coverage). They import
only the standard library and, inside the sandbox, pytest: the sandbox does not see selfheal.
"""

import hashlib
import os
import time

LAUNCHER_FILE = ".selfheal_zygote.py"
PACKAGE_DIR = ".selfheal_engine"
PACKAGE = "selfheal_mutation"
JOB_FILE = ".selfheal_job.json"
RESULTS_FILE = ".selfheal_results.jsonl"
LAUNCHER = (
    "import sys\n"
    f"sys.path.insert(0, {PACKAGE_DIR!r})\n"
    f"from {PACKAGE}.zygote.main import main\n"
    "sys.exit(main())\n"
)

ROOT = os.getcwd()  # inside the sandbox: the project
STARTED = time.monotonic()


def text_digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
