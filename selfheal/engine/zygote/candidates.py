"""Applying a candidate inside a child: in memory (the collected session goes on), or on disk
for a fresh pytest run."""

import importlib.util
import os
import sys
import types

from . import PACKAGE_DIR, ROOT
from .children import failure_message


def module_name_for(path):
    """The dotted name `path` is importable as, from the longest matching sys.path entry."""
    best = ("", os.path.basename(path))
    for entry in sys.path:
        entry = os.path.abspath(entry or ".")
        if path.startswith(entry + os.sep) and len(entry) > len(best[0]):
            best = (entry, os.path.relpath(path, entry))
    parts = best[1][: -len(".py")].split(os.sep)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules():
    modules = {}
    engine = os.path.join(ROOT, PACKAGE_DIR) + os.sep
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        path = os.path.abspath(path)
        if path.startswith(ROOT + os.sep) and not path.startswith(engine):
            modules[path] = module
    return modules


def apply_in_memory(files, loaded):
    """Execute each candidate file in its module and rebind what other modules imported from it:
    `from calc import add` in a test keeps the old function; after calc is re-executed, every
    project module's global holding one of calc's old functions or classes gets the new one.
    `loaded` is project_modules(), computed once before forking."""
    for rel, source in files.items():
        path = os.path.join(ROOT, rel)
        code = compile(source, path, "exec", dont_inherit=True)
        module = loaded.get(path)
        if module is None:
            name = module_name_for(path)
            module = importlib.util.module_from_spec(
                importlib.util.spec_from_file_location(name, path)
            )
            sys.modules[name] = module
            exec(code, module.__dict__)  # noqa: S102 - inside the sandbox, on purpose
            continue
        old = dict(module.__dict__)
        exec(code, module.__dict__)  # noqa: S102
        replaced = {}
        for name, value in old.items():
            new = module.__dict__.get(name)
            if new is not value and isinstance(value, types.FunctionType | type):
                replaced[id(value)] = (value, new)
        for other in loaded.values():
            namespace = other.__dict__
            for name, value in list(namespace.items()):
                pair = replaced.get(id(value))
                if pair is not None and pair[0] is value:
                    namespace[name] = pair[1]


def read_file(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8", newline="") as f:
        return f.read()


def write_files(files):
    for rel, source in files.items():
        with open(os.path.join(ROOT, rel), "w", encoding="utf-8", newline="") as f:
            f.write(source)


def silence():
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


class FreshCounter:
    """Counts what a fresh pytest run did."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.first_failure = ""
        self.message = ""

    def pytest_runtest_logreport(self, report):
        if report.passed and report.when == "call":
            self.passed += 1
        elif report.failed:
            self.failed += 1
            if not self.first_failure:
                self.first_failure = report.nodeid
                self.message = failure_message(report.longreprtext)

    def pytest_collectreport(self, report):
        if report.failed:
            self.failed += 1
            if not self.first_failure:
                self.first_failure = report.nodeid or "collection"
                self.message = failure_message(report.longreprtext)


def fresh_pytest(files, pytest_args, send):
    """In a child: write `files`, forget every project module, run pytest from scratch."""
    import pytest

    silence()
    write_files(files)
    for module in project_modules().values():
        sys.modules.pop(module.__name__, None)
    counter = FreshCounter()
    code = pytest.main([*pytest_args, "-x", "-q", "-p", "no:cacheprovider"], plugins=[counter])
    passed = int(code) == 0 and counter.failed == 0
    send(
        {
            "status": "plausible" if passed else "failed",
            "passed": counter.passed,
            "fixed_failing": 0,
            "first_failure": counter.first_failure,
            "message": counter.message or f"pytest exit code {int(code)}",
        }
    )


# ---------------------------------------------------------------------------------------------
