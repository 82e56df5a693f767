"""Zero-trust review of every patch, whatever its confidence or origin.

Only what the patch *adds* counts: a project that already calls `subprocess` is not blamed for it,
a fix that adds a call is. Findings carry a severity:

blocked  never applied: new code execution, process, network or native-code APIs, writes outside
         the project, interpreter start-up hooks, credentials in the code.
risky    a person decides: tests deleted or weakened, CI / settings / dependency files changed,
         reads outside the project, secret-looking strings, a large patch, bandit findings.

The verdict is the worst finding's severity, or "safe". bandit runs in-process on the before and
after text of changed Python files (it parses, never executes).
"""

from __future__ import annotations

import ast
import difflib
import logging
import math
import re
import tempfile
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .patch import Patch

logger = logging.getLogger(__name__)

SAFE, RISKY, BLOCKED = "safe", "risky", "blocked"
_RANK = {SAFE: 0, RISKY: 1, BLOCKED: 2}


@dataclass(frozen=True)
class Finding:
    severity: str  # "risky" | "blocked"
    check: str  # dangerous_api, outside_project, tests, protected_file, secret, size, bandit, ...
    path: str
    message: str
    line: int | None = None


@dataclass
class SecurityReview:
    verdict: str  # "safe" | "risky" | "blocked"
    reasons: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class ReviewLimits:
    max_changed_lines: int = 200
    max_files: int = 10
    max_review_bytes: int = 1024 * 1024
    use_bandit: bool = True


def review_patch(
    patch: Patch, files: dict[str, str], limits: ReviewLimits | None = None
) -> SecurityReview:
    """Review `patch` against the `files` it applies to (the content before the patch)."""
    limits = limits or ReviewLimits()
    findings: list[Finding] = []
    changed_lines = 0
    python_pairs: list[tuple[str, str | None, str]] = []

    for edit in patch.edits:
        path = edit.path
        before = files.get(path, edit.base_content)
        after = None if edit.action == "delete" else edit.content
        if _escapes_project(path):
            findings.append(
                Finding(
                    BLOCKED, "outside_project", path, f"edits a path outside the project: {path!r}"
                )
            )
            continue
        findings += _check_path(path, edit.action, before)
        if after is None:
            continue
        changed_lines += _changed_line_count(before or "", after)
        if len(after.encode()) > limits.max_review_bytes:
            findings.append(
                Finding(
                    RISKY,
                    "size",
                    path,
                    f"{path} is too large to review ({len(after.encode())} bytes)",
                )
            )
            continue
        findings += _check_secrets(path, before or "", after)
        if path.endswith(".py"):
            findings += _check_python(path, before, after)
            python_pairs.append((path, before, after))

    if changed_lines > limits.max_changed_lines:
        findings.append(
            Finding(
                RISKY,
                "size",
                "",
                f"large patch: {changed_lines} changed lines (limit {limits.max_changed_lines})",
            )
        )
    if len(patch.edits) > limits.max_files:
        findings.append(
            Finding(
                RISKY, "size", "", f"touches {len(patch.edits)} files (limit {limits.max_files})"
            )
        )
    if limits.use_bandit and python_pairs:
        findings += _bandit_findings(python_pairs, findings)

    verdict = max((f.severity for f in findings), key=_RANK.__getitem__, default=SAFE)
    reasons = list(dict.fromkeys(f"{f.severity}: {f.message}" for f in findings))
    return SecurityReview(verdict=verdict, reasons=reasons, findings=findings)


# --- Paths ---------------------------------------------------------------------------------------

# Files whose change alters how the project is built, tested, configured or deployed.
_PROTECTED = [
    (re.compile(r"(^|/)\.github/"), "CI configuration"),
    (re.compile(r"(^|/)\.ci/"), "CI configuration"),
    (
        re.compile(
            r"(^|/)\.gitlab-ci\.yml$|(^|/)\.circleci/|(^|/)Jenkinsfile$|(^|/)\.travis\.yml$"
        ),
        "CI configuration",
    ),
    (
        re.compile(r"(^|/)(Makefile|Dockerfile|docker-compose\.ya?ml|Procfile)$"),
        "build configuration",
    ),
    (
        re.compile(
            r"(^|/)(tox\.ini|noxfile\.py|pytest\.ini|\.coveragerc|\.pre-commit-config\.yaml)$"
        ),
        "test configuration",
    ),
    (re.compile(r"(^|/)conftest\.py$"), "test configuration"),
    (
        re.compile(
            r"(^|/)(setup\.cfg|setup\.py|pyproject\.toml|Pipfile(\.lock)?|poetry\.lock|uv\.lock)$"
        ),
        "packaging / dependency file",
    ),
    (re.compile(r"(^|/)(requirements|constraints)[^/]*\.(txt|in)$"), "dependency file"),
    (re.compile(r"(^|/)settings(\.py|/)|(^|/)\.env(\.|$)|(^|/)manage\.py$"), "settings"),
]
# Files the interpreter runs on its own at start-up.
_STARTUP_HOOK = re.compile(r"(^|/)(sitecustomize|usercustomize)\.py$|\.pth$")
_TEST_FILE = re.compile(r"(^|/)(tests?/.*\.py|test_[^/]*\.py|[^/]*_test\.py)$")


def _escapes_project(path: str) -> bool:
    if not path or "\x00" in path or "\\" in path or path.startswith(("/", "~")):
        return True
    if re.match(r"^[A-Za-z]:", path):
        return True
    return ".." in PurePosixPath(path).parts


def is_test_file(path: str) -> bool:
    return bool(_TEST_FILE.search(path)) and not path.endswith("conftest.py")


_VERB = {"create": "creates", "modify": "modifies", "delete": "deletes"}


def _check_path(path: str, action: str, before: str | None) -> list[Finding]:
    findings = []
    verb = _VERB.get(action, action)
    if _STARTUP_HOOK.search(path):
        findings.append(
            Finding(
                BLOCKED,
                "startup_hook",
                path,
                f"{verb} {path}, which Python runs at every start-up",
            )
        )
    for pattern, what in _PROTECTED:
        if pattern.search(path):
            findings.append(Finding(RISKY, "protected_file", path, f"{verb} {what}: {path}"))
            break
    if action == "delete":
        if is_test_file(path):
            findings.append(Finding(RISKY, "tests", path, f"deletes the test file {path}"))
        elif before is not None:
            findings.append(Finding(RISKY, "deletion", path, f"deletes {path}"))
    return findings


def _changed_line_count(before: str, after: str) -> int:
    return sum(
        1
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def _added_lines(before: str, after: str) -> list[tuple[int, str]]:
    """(line number in `after`, text) of the lines the patch adds."""
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    added = []
    after_lines = after.splitlines()
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            added += [(j + 1, after_lines[j]) for j in range(j1, j2)]
    return added


# --- Secrets -------------------------------------------------------------------------------------

_KNOWN_SECRETS = [
    (re.compile(r"-----BEGIN ([A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"), "a private key"),
    (re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"), "an AWS access key id"),
    (
        re.compile(r"(?i)aws_?secret_?access_?key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}"),
        "an AWS secret access key",
    ),
    (
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b"),
        "a GitHub token",
    ),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}"), "a Stripe live key"),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}"), "an Anthropic API key"),
    (re.compile(r"\bsk-(proj-)?[A-Za-z0-9]{32,}"), "an OpenAI API key"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "a Google API key"),
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        "a JSON web token",
    ),
    (
        re.compile(r"[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:[^\s@/'\"]{3,}@"),
        "a URL with an embedded password",
    ),
]
# A name that ends in a secret's word, assigned a literal: `password = "..."`, `"api_key": "..."`.
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b\w*?(password|passwd|pwd|secret_?key|secret|auth_?token|token|api_?key|access_?key"
    r"|private_?key|credentials?)\b['\"]?\s*[:=]\s*[rbuf]?['\"]([^'\"\s]{8,})['\"]"
)
_STRING_LITERAL = re.compile(r"['\"]([A-Za-z0-9+/=_\-]{24,})['\"]")


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _looks_random(token: str) -> bool:
    classes = sum(
        (
            any(c.islower() for c in token),
            any(c.isupper() for c in token),
            any(c.isdigit() for c in token),
        )
    )
    if re.fullmatch(r"[0-9a-f]{32,}", token):
        return _entropy(token) >= 3.0
    return classes >= 2 and any(c.isdigit() for c in token) and _entropy(token) >= 4.0


def _check_secrets(path: str, before: str, after: str) -> list[Finding]:
    findings = []
    for lineno, text in _added_lines(before, after):
        where = f"{path}:{lineno}"
        known = next((what for pattern, what in _KNOWN_SECRETS if pattern.search(text)), None)
        if known:
            findings.append(Finding(BLOCKED, "secret", path, f"adds {known} at {where}", lineno))
            continue
        match = _SECRET_ASSIGNMENT.search(text)
        if match:
            findings.append(
                Finding(
                    RISKY,
                    "secret",
                    path,
                    f"adds a hard-coded {match.group(1).lower()} at {where}",
                    lineno,
                )
            )
            continue
        if any(_looks_random(m.group(1)) for m in _STRING_LITERAL.finditer(text)):
            findings.append(
                Finding(
                    RISKY,
                    "secret",
                    path,
                    f"adds a secret-looking (high-entropy) string at {where}",
                    lineno,
                )
            )
    return findings


# --- Python: dangerous APIs and paths outside the project ----------------------------------------

# Importing any of these is new capability a fix never needs.
_DANGEROUS_MODULES = {
    "subprocess": "starts processes", "pty": "starts processes", "pexpect": "starts processes",
    "socket": "opens network sockets", "socketserver": "opens network sockets",
    "ssl": "opens network connections", "asyncio.subprocess": "starts processes",
    "requests": "makes network requests", "httpx": "makes network requests",
    "urllib3": "makes network requests", "urllib.request": "makes network requests",
    "http.client": "makes network requests", "aiohttp": "makes network requests",
    "ftplib": "makes network connections", "smtplib": "makes network connections",
    "telnetlib": "makes network connections", "poplib": "makes network connections",
    "imaplib": "makes network connections", "xmlrpc": "makes network connections",
    "paramiko": "makes network connections", "webbrowser": "opens a browser",
    "ctypes": "calls native code", "cffi": "calls native code",
    "pickle": "deserialises arbitrary objects", "cPickle": "deserialises arbitrary objects",
    "_pickle": "deserialises arbitrary objects", "dill": "deserialises arbitrary objects",
    "marshal": "loads code objects", "shelve": "deserialises arbitrary objects",
    "runpy": "runs code dynamically", "builtins": "rewires the builtins",
}  # fmt: skip
# Calls (or references) that execute code, start processes or leave the process.
_DANGEROUS_NAMES = {
    "eval": "evaluates code", "exec": "executes code", "compile": "compiles code",
    "__import__": "imports code dynamically", "__builtins__": "reaches into the builtins",
    "os.system": "runs a shell command", "os.popen": "runs a shell command",
    "os.fork": "forks the process", "os.forkpty": "forks the process",
    "os.kill": "signals processes", "os.killpg": "signals processes",
    "os._exit": "exits the interpreter at once", "os.setuid": "changes privileges",
    "os.setgid": "changes privileges", "os.chroot": "changes the root directory",
    "os.putenv": "changes the environment",
    "importlib.import_module": "imports code dynamically", "importlib.__import__": "imports code dynamically",
    "importlib.reload": "reloads code", "importlib.util.spec_from_file_location": "loads code from a file",
    "importlib.util.module_from_spec": "loads code dynamically",
}  # fmt: skip
_DANGEROUS_PREFIXES = ("os.exec", "os.spawn", "os.posix_spawn")
# Merely risky: a person should look (the test run cannot tell a wrong one from a right one).
_RISKY_NAMES = {
    "sys.exit": "exits the interpreter", "sys.settrace": "installs a tracer",
    "sys.setprofile": "installs a profiler", "os.path.expanduser": "reaches into the home directory",
    "globals": "rewrites module globals", "setattr": "sets attributes dynamically",
    "yaml.load": "loads YAML that may build arbitrary objects", "yaml.unsafe_load": "loads unsafe YAML",
    "tempfile.mktemp": "creates an insecure temporary file name",
}  # fmt: skip
_WRITE_CALLS = {
    "os.remove", "os.unlink", "os.rmdir", "os.removedirs", "os.rename", "os.replace", "os.chmod",
    "os.chown", "os.mkdir", "os.makedirs", "os.symlink", "os.link", "os.truncate", "os.utime",
    "shutil.rmtree", "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree",
    "shutil.move", "shutil.chown", "pathlib.Path.write_text", "pathlib.Path.write_bytes",
}  # fmt: skip
_PATH_METHODS_WRITE = {"write_text", "write_bytes", "unlink", "rmdir", "mkdir", "touch", "rename",
                       "replace", "chmod", "symlink_to", "hardlink_to"}  # fmt: skip


@dataclass(frozen=True)
class _Usage:
    key: str  # what is compared before/after
    severity: str
    check: str
    message: str
    line: int


def _qualified(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _aliases(tree: ast.AST) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _module_danger(module: str) -> str | None:
    for name, why in _DANGEROUS_MODULES.items():
        if module == name or module.startswith(name + "."):
            return why
    return None


def _name_danger(name: str) -> tuple[str, str] | None:
    if name in _DANGEROUS_NAMES:
        return BLOCKED, _DANGEROUS_NAMES[name]
    if name.startswith(_DANGEROUS_PREFIXES):
        return BLOCKED, "starts a process"
    module_why = _module_danger(name.rsplit(".", 1)[0]) if "." in name else None
    if module_why:
        return BLOCKED, module_why
    if name in _RISKY_NAMES:
        return RISKY, _RISKY_NAMES[name]
    return None


def _constant_path(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The path a node names when it starts with a constant: "x", f"/etc/{y}", os.path.join("/a",
    y), Path("/a") / y."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div | ast.Add):
        return _constant_path(node.left, aliases)
    if isinstance(node, ast.Call) and node.args:
        name = _qualified(node.func, aliases) or ""
        if name in (
            "os.path.join",
            "pathlib.Path",
            "Path",
            "pathlib.PurePath",
            "os.path.abspath",
            "str",
        ):
            return _constant_path(node.args[0], aliases)
    return None


def _outside(path: str) -> bool:
    return (
        path.startswith(("/", "~", "\\"))
        or bool(re.match(r"^[A-Za-z]:", path))
        or ".." in re.split(r"[/\\]", path)
    )


def _open_mode(call: ast.Call) -> str:
    mode = (
        call.args[1]
        if len(call.args) > 1
        else next((k.value for k in call.keywords if k.arg == "mode"), None)
    )
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return mode.value
    return "r" if mode is None else "?"


def _python_usages(tree: ast.AST) -> list[_Usage]:
    aliases = _aliases(tree)
    usages: list[_Usage] = []

    def add(key: str, severity: str, check: str, message: str, node: ast.AST) -> None:
        usages.append(_Usage(key, severity, check, message, getattr(node, "lineno", 0)))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                why = _module_danger(alias.name)
                if why:
                    add(
                        f"import {alias.name}",
                        BLOCKED,
                        "dangerous_api",
                        f"imports {alias.name} ({why})",
                        node,
                    )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                why = (
                    _module_danger(node.module)
                    or _module_danger(full)
                    or (_name_danger(full) or (None, None))[1]
                )
                if why:
                    add(f"import {full}", BLOCKED, "dangerous_api", f"imports {full} ({why})", node)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            name = aliases.get(node.id, node.id)
            danger = _name_danger(name)
            if danger:
                add(f"use {name}", danger[0], "dangerous_api", f"uses {name} ({danger[1]})", node)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            name = _qualified(node, aliases)
            danger = _name_danger(name) if name and "." in name else None
            if danger:
                add(f"use {name}", danger[0], "dangerous_api", f"uses {name} ({danger[1]})", node)
        if isinstance(node, ast.Call):
            usages += _path_usages(node, aliases)
    return usages


def _path_usages(call: ast.Call, aliases: dict[str, str]) -> list[_Usage]:
    name = _qualified(call.func, aliases) or ""
    line = call.lineno
    if name in ("open", "io.open", "os.open") and call.args:
        target = _constant_path(call.args[0], aliases)
        if target is not None and _outside(target):
            mode = _open_mode(call)
            if name == "os.open" or set(mode) & set("wax+?"):
                return [
                    _Usage(
                        f"write {target}",
                        BLOCKED,
                        "outside_project",
                        f"writes outside the project: {target!r}",
                        line,
                    )
                ]
            return [
                _Usage(
                    f"read {target}",
                    RISKY,
                    "outside_project",
                    f"reads a file outside the project: {target!r}",
                    line,
                )
            ]
    if name in _WRITE_CALLS:
        targets = [_constant_path(arg, aliases) for arg in call.args[:2]]
        for target in targets:
            if target is not None and _outside(target):
                return [
                    _Usage(
                        f"write {target}",
                        BLOCKED,
                        "outside_project",
                        f"{name} outside the project: {target!r}",
                        line,
                    )
                ]
        if name == "shutil.rmtree" and targets and targets[0] is None:
            return [
                _Usage(
                    "rmtree ?",
                    RISKY,
                    "outside_project",
                    "deletes a directory tree chosen at run time",
                    line,
                )
            ]
    if isinstance(call.func, ast.Attribute) and call.func.attr in _PATH_METHODS_WRITE | {"open"}:
        target = _constant_path(call.func.value, aliases)
        if target is not None and _outside(target):
            if call.func.attr == "open" and not set(_open_mode(call)) & set("wax+?"):
                return [
                    _Usage(
                        f"read {target}",
                        RISKY,
                        "outside_project",
                        f"reads a file outside the project: {target!r}",
                        line,
                    )
                ]
            return [
                _Usage(
                    f"write {target}",
                    BLOCKED,
                    "outside_project",
                    f"writes outside the project: {target!r}",
                    line,
                )
            ]
    return []


# --- Python: tests deleted or weakened -----------------------------------------------------------


@dataclass
class _TestFacts:
    asserts: Counter = field(default_factory=Counter)  # normalised assertion source -> count
    skips: int = 0
    trivial: int = 0
    swallowed: int = 0
    line: int = 0


_ASSERT_METHODS = re.compile(r"^(assert[A-Z_]\w*|fail\w*)$")
_SKIP_NAMES = {
    "skip",
    "skipif",
    "xfail",
    "skipTest",
    "skipUnless",
    "skipIf",
    "expectedFailure",
    "importorskip",
}


def _is_trivially_true(test: ast.expr) -> bool:
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq | ast.Is)
    ):
        return ast.dump(test.left) == ast.dump(test.comparators[0])
    return False


def _test_functions(tree: ast.AST) -> dict[str, _TestFacts]:
    tests: dict[str, _TestFacts] = {}

    def visit_function(node: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str) -> None:
        facts = _TestFacts(line=node.lineno)
        for decorator in node.decorator_list:
            if any(
                isinstance(n, ast.Attribute | ast.Name)
                and getattr(n, "attr", getattr(n, "id", "")) in _SKIP_NAMES
                for n in ast.walk(decorator)
            ):
                facts.skips += 1
        for child in ast.walk(node):
            if isinstance(child, ast.Assert):
                facts.asserts[ast.dump(child.test)] += 1
                facts.trivial += _is_trivially_true(child.test)
            elif isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                if _ASSERT_METHODS.match(child.func.attr) or child.func.attr in ("raises", "warns"):
                    facts.asserts[ast.dump(child)] += 1
                if (
                    child.func.attr in _SKIP_NAMES
                    or child.func.attr == "exit"
                    and _qualified(child.func.value, {}) == "pytest"
                ):
                    facts.skips += 1
            elif isinstance(child, ast.ExceptHandler):
                caught = ast.dump(child.type) if child.type else ""
                if (
                    not caught
                    or "AssertionError" in caught
                    or "'Exception'" in caught
                    or "BaseException" in caught
                ):
                    facts.swallowed += 1
        tests[qualname] = facts

    for node in getattr(tree, "body", []):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            visit_function(node, node.name)
        elif isinstance(node, ast.ClassDef):
            skipped_class = any(
                _SKIP_NAMES & {getattr(n, "attr", getattr(n, "id", "")) for n in ast.walk(d)}
                for d in node.decorator_list
            )
            for item in node.body:
                if isinstance(
                    item, ast.FunctionDef | ast.AsyncFunctionDef
                ) and item.name.startswith("test"):
                    visit_function(item, f"{node.name}.{item.name}")
                    tests[f"{node.name}.{item.name}"].skips += skipped_class
    return tests


def _module_skips(tree: ast.AST) -> int:
    """`pytestmark = pytest.mark.skip...` or a module-level pytest.skip(...)."""
    count = 0
    for node in getattr(tree, "body", []):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            count += sum(1 for n in ast.walk(node.value) if getattr(n, "attr", "") in _SKIP_NAMES)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            count += getattr(node.value.func, "attr", "") in _SKIP_NAMES
    return count


def _check_tests(path: str, before_tree: ast.AST, after_tree: ast.AST) -> list[Finding]:
    findings = []
    before, after = _test_functions(before_tree), _test_functions(after_tree)

    def risky(message: str, line: int | None = None) -> None:
        findings.append(Finding(RISKY, "tests", path, message, line))

    for name, old in before.items():
        new = after.get(name)
        if new is None:
            risky(f"deletes the test {name} from {path}", old.line)
            continue
        removed = old.asserts - new.asserts
        added = new.asserts - old.asserts
        if sum(new.asserts.values()) < sum(old.asserts.values()):
            risky(
                f"removes {sum(removed.values())} assertion(s) from the test {name} in {path}",
                new.line,
            )
        elif removed:
            risky(f"changes an assertion of the test {name} in {path}", new.line)
        if added and new.trivial > old.trivial:
            risky(f"adds an always-true assertion to the test {name} in {path}", new.line)
        if new.skips > old.skips:
            risky(f"skips or xfails the test {name} in {path}", new.line)
        if new.swallowed > old.swallowed:
            risky(f"catches the failures of the test {name} in {path}", new.line)
    for name, new in after.items():
        if name not in before and (new.trivial or new.skips):
            risky(f"adds the test {name} to {path} that cannot fail", new.line)
    if _module_skips(after_tree) > _module_skips(before_tree):
        risky(f"skips the whole test module {path}")
    return findings


# --- Python: putting it together -----------------------------------------------------------------


def _parse(source: str | None) -> ast.AST | None:
    if source is None:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _check_python(path: str, before: str | None, after: str) -> list[Finding]:
    after_tree = _parse(after)
    if after_tree is None:
        return [
            Finding(
                RISKY,
                "unparsable",
                path,
                f"{path} does not parse after the patch, so it could not be reviewed",
            )
        ]
    before_tree = _parse(before)
    after_usages = _python_usages(after_tree)
    if before_tree is not None:
        baseline = Counter(u.key for u in _python_usages(before_tree))
        before_imports = {k for k in baseline if k.startswith("import ")}
    else:
        # The old code did not parse (a syntax fix): a usage on a line that was already there is old.
        old_lines = {line.strip() for line in (before or "").splitlines()}
        after_lines = after.splitlines()
        baseline = Counter(
            u.key for u in after_usages
            if 0 < u.line <= len(after_lines) and after_lines[u.line - 1].strip() in old_lines
        )  # fmt: skip
        before_imports = {k for k in baseline if k.startswith("import ")}

    old_lines = {line.strip() for line in (before or "").splitlines()}
    after_lines = after.splitlines()

    def is_old_line(usage: _Usage) -> bool:
        return (
            0 < usage.line <= len(after_lines) and after_lines[usage.line - 1].strip() in old_lines
        )

    findings = []
    by_key: dict[str, list[_Usage]] = {}
    for usage in after_usages:
        by_key.setdefault(usage.key, []).append(usage)
    for key, usages in by_key.items():
        new_count = len(usages) - baseline[key]
        if new_count <= 0:
            continue
        # Report the occurrences on lines the patch wrote, not the ones it kept.
        for usage in sorted(usages, key=is_old_line)[:new_count]:
            severity = usage.severity
            name = key.removeprefix("use ")
            # A new call into a dangerous module the file already imported: a person judges it.
            if severity == BLOCKED and key.startswith("use ") and name not in _DANGEROUS_NAMES:
                if any(
                    _module_danger(i.removeprefix("import "))
                    and name.startswith(i.removeprefix("import ").split(".")[0] + ".")
                    for i in before_imports
                ):
                    severity = RISKY
            findings.append(
                Finding(
                    severity,
                    usage.check,
                    path,
                    f"{usage.message} at {path}:{usage.line}",
                    usage.line,
                )
            )
    if is_test_file(path) and before_tree is not None:
        findings += _check_tests(path, before_tree, after_tree)
    return findings


# --- bandit --------------------------------------------------------------------------------------

_bandit_config = None


def _run_bandit(directory: Path, names: list[str]) -> dict[str, list]:
    global _bandit_config
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # stevedore's, as bandit loads plugins
        from bandit.core import config as bandit_config
        from bandit.core import manager

        if _bandit_config is None:
            _bandit_config = bandit_config.BanditConfig()
        bandit_manager = manager.BanditManager(
            _bandit_config, "file", quiet=True, ignore_nosec=True
        )
    bandit_manager.discover_files([str(directory / n) for n in names])
    bandit_manager.run_tests()
    issues: dict[str, list] = {n: [] for n in names}
    for issue in bandit_manager.get_issue_list():
        issues[Path(issue.fname).name].append(issue)
    return issues


_LEVEL = {"UNDEFINED": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}


def _bandit_findings(
    pairs: list[tuple[str, str | None, str]], already: list[Finding]
) -> list[Finding]:
    """bandit's findings (medium severity and confidence or more) on the new text, minus those it
    also finds on the old text (matched by test id and line text) and lines already reported."""
    reported = {(f.path, f.line) for f in already}
    findings: list[Finding] = []
    try:
        with tempfile.TemporaryDirectory(prefix="selfheal-review-") as tmp:
            directory = Path(tmp)
            names = []
            for i, (_, before, after) in enumerate(pairs):
                (directory / f"after_{i}.py").write_text(after)
                names.append(f"after_{i}.py")
                if before is not None:
                    (directory / f"before_{i}.py").write_text(before)
                    names.append(f"before_{i}.py")
            with _quiet_logging():
                issues = _run_bandit(directory, names)
    except Exception as exc:  # bandit failing must not pass a patch silently
        logger.warning("bandit could not run: %s", exc)
        return [Finding(RISKY, "bandit", "", f"bandit could not run ({exc}); review by hand")]
    for i, (path, _, after) in enumerate(pairs):
        lines = after.splitlines()

        def key(issue, source_lines):
            text = (
                source_lines[issue.lineno - 1].strip()
                if 0 < issue.lineno <= len(source_lines)
                else ""
            )
            return issue.test_id, text

        before_text = pairs[i][1] or ""
        old = Counter(
            key(issue, before_text.splitlines()) for issue in issues.get(f"before_{i}.py", [])
        )
        for issue in issues.get(f"after_{i}.py", []):
            k = key(issue, lines)
            if old[k] > 0:
                old[k] -= 1
                continue
            if (
                _LEVEL[issue.severity] < 2
                or _LEVEL[issue.confidence] < 2
                or (path, issue.lineno) in reported
            ):
                continue
            findings.append(
                Finding(
                    RISKY,
                    "bandit",
                    path,
                    f"bandit {issue.test_id}: {issue.text} ({path}:{issue.lineno})",
                    issue.lineno,
                )
            )
    return findings


class _quiet_logging:
    """bandit logs every file it scans, and stevedore every optional bandit plugin it cannot load
    (the SARIF formatter); keep the service's logs for what matters."""

    NAMES = {"bandit": logging.ERROR, "stevedore": logging.CRITICAL}

    def __enter__(self):
        self.levels = {name: logging.getLogger(name).level for name in self.NAMES}
        for name, level in self.NAMES.items():
            logging.getLogger(name).setLevel(level)

    def __exit__(self, *exc):
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)
