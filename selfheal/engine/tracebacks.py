"""Parse failures into one ErrorReport shape.

Sources: plain Python tracebacks, pytest's terminal output (long, short and native styles, collection
errors, the short summary), pytest's JUnit XML (through the sandbox's TestCaseResult or a CI upload),
and Sentry event payloads. Parsers of text and payloads never raise on garbage: they return None, [] or
a report with an empty exc_type. Only `parse_junit_xml` raises (MalformedReport), because an upload
that is not JUnit XML deserves a clear 400 rather than "no failures".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from .junit import JUnitError, TestCaseResult, parse_junit

MAX_TEXT_CHARS = 2_000_000  # longer input is cut from the front: the final exception is at the end
MAX_MESSAGE_CHARS = 8_000
MAX_RAW_CHARS = 64_000
MAX_FRAMES = 250  # the innermost ones are kept
MAX_CONTEXT_LINES = 10


class MalformedReport(ValueError):
    """An uploaded report (JUnit XML) that cannot be read; the message says why."""


@dataclass
class Frame:
    filename: str  # as the traceback shows it, relative to the project where possible
    lineno: int | None
    function: str
    module: str = ""  # dotted module name when known ("pkg.mod")
    context_line: str = ""
    pre_context: list[str] = field(default_factory=list)
    post_context: list[str] = field(default_factory=list)
    in_app: bool = True


@dataclass
class ErrorReport:
    exc_type: str  # "NameError", "AssertionError", "SyntaxError", ... ("" when unknown)
    message: str  # "name 'os' is not defined"
    frames: list[Frame] = field(default_factory=list)  # outermost first, innermost (crash) last
    test_name: str = ""  # the failing test's node id, when it comes from a test run
    source: str = "python"  # "python" | "pytest" | "junit" | "sentry" | "json"
    raw: str = ""  # the text it was parsed from
    # For SyntaxError / IndentationError: where the parser stopped. The offset is 1-based and counts
    # from the start of syntax_text, which is the offending line without its leading whitespace.
    syntax_file: str = ""
    syntax_line: int | None = None
    syntax_offset: int | None = None
    syntax_text: str = ""
    exc_module: str = ""  # "json.decoder" for json.decoder.JSONDecodeError; exc_type stays short
    phase: str = ""  # for test failures: "collection" | "setup" | "call" | "teardown"
    # A log message's template before formatting ("user %s not found"), when the source sent one.
    message_template: str = ""
    # A client-sent grouping override (Sentry's `fingerprint`), used by engine.fingerprint.
    custom_fingerprint: list[str] = field(default_factory=list)

    @property
    def crash_frame(self) -> Frame | None:
        in_app = [f for f in self.frames if f.in_app]
        return (in_app or self.frames or [None])[-1]


# --- paths and modules ---------------------------------------------------------------------------

_LIBRARY_RE = re.compile(r"(?<![^/])(?:(?:site|dist)-packages|lib/python\d+(?:\.\d+)?)/")
_FROZEN_RE = re.compile(r"^<frozen ([\w.]+)>$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:/")
_PY_SUFFIXES = (".py", ".pyc", ".pyw", ".pyx", ".pyi")


def _library_tail(path: str) -> str | None:
    """The part of `path` after site-packages/ or the stdlib directory, or None for other paths."""
    ends = [match.end() for match in _LIBRARY_RE.finditer(path)]
    return path[ends[-1] :] if ends else None


def is_library_path(path: str) -> bool:
    """Installed packages, the standard library and generated code (<frozen ...>, <string>)."""
    p = path.replace("\\", "/")
    if p.startswith("<"):
        return not p.startswith(("<stdin>", "<doctest"))
    return _library_tail(p) is not None


def module_from_path(path: str) -> str:
    """The dotted module name a file path stands for.

    Relative paths are taken from the project root. For an absolute path outside the libraries the
    root is unknown and may change between deploys (sandbox temp dirs), so only the file's own name
    is used: it stays stable, which matters more for grouping than being complete.
    """
    p = path.replace("\\", "/")
    if p.startswith("<"):
        frozen = _FROZEN_RE.match(p)
        return frozen.group(1) if frozen else ""
    tail = _library_tail(p)
    if tail is not None:
        p = tail
    elif p.startswith("/") or _DRIVE_RE.match(p):
        parts = [part for part in p.split("/") if part]
        if not parts:
            return ""
        p = "/".join(parts[-2:]) if parts[-1].startswith("__init__.") else parts[-1]
    while p.startswith("./"):
        p = p[2:]
    for suffix in _PY_SUFFIXES:
        if p.endswith(suffix):
            p = p[: -len(suffix)]
            break
    p = p.removesuffix("/__init__")
    return p.replace("/", ".").strip(".")


class _Paths:
    """Maps the paths a traceback shows to project-relative ones and builds frames."""

    def __init__(self, project_files: Collection[str] | None = None):
        self.files = set(project_files or ())
        self.seen: dict[str, tuple[str, str, bool]] = {}
        self.by_name: dict[str, list[str]] = {}
        for name in self.files:
            self.by_name.setdefault(name.rsplit("/", 1)[-1], []).append(name)

    def relative(self, path: str) -> str | None:
        p = path.replace("\\", "/")
        if p in self.files:
            return p
        if is_library_path(p):
            return None
        best = None
        for candidate in self.by_name.get(p.rsplit("/", 1)[-1], ()):
            if p.endswith("/" + candidate) and (best is None or len(candidate) > len(best)):
                best = candidate
        return best

    def learn(self, path: str) -> None:
        """Remember a project-relative path seen elsewhere in the same output (a node id)."""
        p = path.replace("\\", "/")
        if p and not p.startswith(("/", "<")) and not _DRIVE_RE.match(p) and not is_library_path(p):
            if p not in self.files:
                self.seen.clear()
                self.files.add(p)
                self.by_name.setdefault(p.rsplit("/", 1)[-1], []).append(p)

    def display(self, path: str) -> str:
        return self.relative(path) or path

    def frame(self, path: str, lineno: int | None, function: str, **context: Any) -> Frame:
        known = self.seen.get(path)
        if known is None:  # deep recursion repeats one path thousands of times
            relative = self.relative(path)
            if relative is not None:
                known = (relative, module_from_path(relative), True)
            else:
                known = (path, module_from_path(path), not is_library_path(path))
            self.seen[path] = known
        filename, module, in_app = known
        return Frame(filename, lineno, function, module, in_app=in_app, **context)


# --- exception lines -----------------------------------------------------------------------------

_EXC_LINE_RE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::[ \t]?(?P<msg>.*))?$")
_EXC_NAME_SUFFIXES = (
    "Error", "Exception", "Exit", "Interrupt", "Warning", "Failure", "Failed", "Timeout",
    "Expired", "Exceeded", "Refused", "NotExist", "Iteration", "Group",
)  # fmt: skip


def looks_like_exception_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last[:1].isupper() and (last.endswith(_EXC_NAME_SUFFIXES) or last == "Exception")


def split_exception_line(line: str) -> tuple[str, str] | None:
    """("json.decoder.JSONDecodeError", "Expecting value: ...") from "Type: message", else None.

    Only names that look like exceptions are accepted: "Hint: make sure..." is not an exception.
    """
    match = _EXC_LINE_RE.match(line.strip())
    if not match or not looks_like_exception_name(match["type"]):
        return None
    return match["type"], match["msg"] or ""


def _split_type(qualified: str) -> tuple[str, str]:
    """("JSONDecodeError", "json.decoder") from "json.decoder.JSONDecodeError"."""
    module, _, name = qualified.rpartition(".")
    return name, module


# --- plain Python tracebacks ---------------------------------------------------------------------

_TB_HEADER_RE = re.compile(r"^\s*Traceback \(most recent call last\):\s*$")
_CHAIN_RE = re.compile(
    r"^\s*(?:During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:)\s*$"
)
_GROUP_HEADER_RE = re.compile(r"^(\s*)\+ Exception Group Traceback \(most recent call last\):\s*$")
_FILE_LINE_RE = re.compile(
    r'^(\s*)File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.*\S))?\s*$'
)
_CARET_RE = re.compile(r"^\s*[\^~]+\s*$")
_REPEATED_RE = re.compile(r"^\s*\[Previous line repeated \d+ more times?\]\s*$")
_PYTEST_RULE_RE = re.compile(r"^(?:_{3,}|={3,}|-{3,}) ")
_FOREIGN_FRAME_RE = re.compile(r"^\s+at \S")  # Java / JavaScript stack lines in a JUnit report
_SYNTAX_TYPES = ("SyntaxError", "IndentationError", "TabError")


def _clip(text: Any) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return ""
    return text[-MAX_TEXT_CHARS:]


def _unwrap_exception_group(lines: list[str]) -> list[str]:
    """Python 3.11 draws exception groups in a box; keep the top-level group as a plain traceback."""
    start = None
    for index, line in enumerate(lines):
        if _GROUP_HEADER_RE.match(line):
            start = index
    if start is None:
        return lines
    # The box's bar is under the header's "+"; tools that trim text may have eaten the indent.
    following = lines[start + 1] if start + 1 < len(lines) else ""
    column = following.find("|") if following.lstrip().startswith("|") else 0
    body = ["Traceback (most recent call last):"]
    for line in lines[start + 1 :]:
        if line[column : column + 1] != "|":
            break
        body.append(line[column + 2 :])
    return lines[:start] + body


def _parse_python(lines: list[str], paths: _Paths, source: str = "python") -> ErrorReport | None:
    lines = _unwrap_exception_group(lines)
    start = 0
    for index, line in enumerate(lines):
        if _TB_HEADER_RE.match(line) or _CHAIN_RE.match(line):
            start = index + 1

    frames: list[Frame] = []
    syntax: tuple[str, int, str, int | None] | None = None
    exc_index = None
    i, count = start, len(lines)
    while i < count:
        line = lines[i]
        location = _FILE_LINE_RE.match(line)
        if location:
            body_indent = " " * (len(location.group(1)) + 2)
            j = i + 1
            body = []
            while (
                j < count and lines[j].startswith(body_indent) and not _FILE_LINE_RE.match(lines[j])
            ):
                if not _REPEATED_RE.match(lines[j]):
                    body.append(lines[j])
                j += 1
            code = next((b for b in body if b.strip() and not _CARET_RE.match(b)), "")
            lineno = int(location["line"])
            if location["func"] is None:
                syntax = (location["file"], lineno, code.strip(), _caret_offset(code, body))
            else:
                frames.append(
                    paths.frame(
                        location["file"], lineno, location["func"], context_line=code.strip()
                    )
                )
            i = j
            continue
        stripped = line.strip()
        if stripped and not _REPEATED_RE.match(line):
            if frames or syntax:
                if not line[0].isspace() and _EXC_LINE_RE.match(line):
                    exc_index = i
                    break
            elif split_exception_line(stripped):
                exc_index = i
                break
        i += 1

    if exc_index is None and not frames and not syntax:
        return None
    exc_type = exc_module = message = ""
    if exc_index is not None:
        first = _EXC_LINE_RE.match(lines[exc_index].strip())
        exc_type, exc_module = _split_type(first["type"])
        message_lines = [first["msg"] or ""]
        for extra in lines[exc_index + 1 : exc_index + 200]:
            if not extra.strip() or _CHAIN_RE.match(extra) or _TB_HEADER_RE.match(extra):
                break
            if _PYTEST_RULE_RE.match(extra) or _FOREIGN_FRAME_RE.match(extra):
                break
            message_lines.append(extra)
        message = "\n".join(message_lines)[:MAX_MESSAGE_CHARS]

    report = ErrorReport(
        exc_type=exc_type,
        exc_module=exc_module,
        message=message,
        frames=frames[-MAX_FRAMES:],
        source=source,
        raw="\n".join(lines)[-MAX_RAW_CHARS:],
    )
    if syntax:
        report.syntax_file = paths.display(syntax[0])
        report.syntax_line, report.syntax_text, report.syntax_offset = syntax[1:]
        # Where the parser stopped is where the failure is: make it the last frame, as Sentry
        # does, so crash_frame and anything that keeps only frames (a stored event) point there.
        report.frames.append(
            paths.frame(syntax[0], syntax[1], "<module>", context_line=report.syntax_text)
        )
    return report


def _caret_offset(code: str, body: list[str]) -> int | None:
    """1-based column of the first caret, counted from the start of the stripped code line."""
    if not code:
        return None
    after = body[body.index(code) + 1 :]
    caret = next((b for b in after if _CARET_RE.match(b)), None)
    if caret is None:
        return None
    code_indent = len(code) - len(code.lstrip())
    first = min(i for i in (caret.find("^"), caret.find("~")) if i >= 0)
    return max(first - code_indent, 0) + 1


def parse_python_traceback(
    text: str, project_files: Collection[str] | None = None
) -> ErrorReport | None:
    """The final exception of a traceback (a chain's last link), or None when there is none.

    `project_files` (paths relative to the project) lets absolute paths from a sandbox or a server
    be mapped back to project files.
    """
    try:
        return _parse_python(_clip(text).splitlines(), _Paths(project_files))
    except Exception:  # noqa: BLE001 - a parser of untrusted text must never take its caller down
        return None


# --- pytest terminal output ----------------------------------------------------------------------

_BANNER_RE = re.compile(r"^={3,}(?: (?P<title>.*?) )?={3,}$")
_SECTION_RE = re.compile(r"^_{3,} (?P<title>.+?) _{3,}$")
_ENTRY_SEPARATOR_RE = re.compile(r"^(?:_ )+_\s*$")
_CAPTURED_RE = re.compile(r"^-{3,} Captured .* -{3,}$")  # the test's own output follows
_LOCATION_RE = re.compile(
    r"^(?P<file><[^>]+>|[^\s:<][^\s:]*):(?P<line>\d+)(?::(?: (?P<rest>.*))?)?$"
)
_DEF_RE = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)")
_SUMMARY_RE = re.compile(r"^(?P<kind>FAILED|ERROR) (?P<node>.+?)(?: - (?P<message>.*))?$")
_FIXTURE_MISSING_RE = re.compile(r"^fixture '[^']*' not found")
_SETUP_TITLE_RE = re.compile(r"^ERROR at (?P<phase>setup|teardown) of (?P<name>.+)$")
_FAILURE_BANNERS = ("ERRORS", "FAILURES")


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return [line[cut:] for line in lines]


def _long_frame(paths: _Paths, location: re.Match, buffer: list[str]) -> Frame:
    """A long-style entry: source lines ('>' marks the failing one) above a `path:line:` footer."""
    function = ""
    for line in buffer:
        definition = _DEF_RE.match(line[1:] if line.startswith(">") else line)
        if definition:
            function = definition.group(1)
            break
    source = [
        line[4:] for line in buffer if line.startswith((">", "    ")) and not _CARET_RE.match(line)
    ]
    marked = [index for index, line in enumerate(buffer) if line.startswith(">")]
    context_line, pre, post = "", [], []
    if buffer and buffer[0].startswith("file ") and len(buffer) > 1:
        context_line = buffer[1].strip()  # "fixture not found": the test's own def line
    elif marked:
        failing = buffer[marked[0]][4:]
        context_line = failing.strip()
        at = source.index(failing) if failing in source else len(source)
        pre = source[max(at - MAX_CONTEXT_LINES, 0) : at]
        post = source[at + 1 : at + 1 + MAX_CONTEXT_LINES]
    if not function and source:
        function = "<module>"
    return paths.frame(
        location["file"],
        int(location["line"]),
        function,
        context_line=context_line,
        pre_context=pre,
        post_context=post,
    )


def _parse_longrepr(lines: list[str], paths: _Paths) -> ErrorReport | None:
    """One failing test's report as pytest prints it (and as JUnit XML stores it)."""
    captured = next((i for i, line in enumerate(lines) if _CAPTURED_RE.match(line)), None)
    if captured is not None:
        lines = lines[:captured]
    if any(_TB_HEADER_RE.match(line) or _GROUP_HEADER_RE.match(line) for line in lines):
        return _parse_python(lines, paths, source="pytest")  # --tb=native
    chain = [index for index, line in enumerate(lines) if _CHAIN_RE.match(line)]
    if chain:
        lines = lines[chain[-1] + 1 :]

    frames: list[Frame] = []
    error_lines: list[str] = []
    buffer: list[str] = []
    short: dict | None = None  # a short-style entry being read: `path:line: in func` + source
    footer_type = ""

    def close_short() -> None:
        nonlocal short
        if short is not None:
            code = next((s for s in short["source"] if s.strip() and not _CARET_RE.match(s)), "")
            code = "" if code.strip() == "???" else code.strip()
            frames.append(
                paths.frame(short["file"], short["line"], short["func"], context_line=code)
            )
            short = None

    for line in lines:
        if _ENTRY_SEPARATOR_RE.match(line):
            close_short()
            buffer = []
            continue
        if line.startswith("E") and (len(line) == 1 or line[1] == " "):
            error_lines.append(line[1:])
            continue
        location = _LOCATION_RE.match(line)
        if location:
            rest = (location["rest"] or "").strip()
            close_short()
            if rest.startswith("in "):
                short = {
                    "file": location["file"],
                    "line": int(location["line"]),
                    "func": rest[3:],
                    "source": [],
                }
            else:
                frames.append(_long_frame(paths, location, buffer))
                footer_type = rest or footer_type
            buffer = []
            continue
        if short is not None:
            short["source"].append(line)
        else:
            buffer.append(line)
    close_short()

    if not frames and not error_lines:
        return None
    report = ErrorReport(
        exc_type="",
        message="",
        frames=frames[-MAX_FRAMES:],
        source="pytest",
        raw="\n".join(lines)[-MAX_RAW_CHARS:],
    )
    error_lines = _dedent(error_lines)
    if any(_FILE_LINE_RE.match(line) for line in error_lines):
        inner = _parse_python(error_lines, paths)  # a SyntaxError as the compiler printed it
        if inner is not None:
            report.exc_type, report.exc_module, report.message = (
                inner.exc_type,
                inner.exc_module,
                inner.message,
            )
            report.syntax_file, report.syntax_line = inner.syntax_file, inner.syntax_line
            report.syntax_offset, report.syntax_text = inner.syntax_offset, inner.syntax_text
            report.frames.extend(inner.frames)
            return report
    first = error_lines[0].strip() if error_lines else ""
    match = _EXC_LINE_RE.match(first)
    footer_name = footer_type.rsplit(".", 1)[-1]
    if match and (
        (footer_name and match["type"].rsplit(".", 1)[-1] == footer_name)
        or (not footer_name and looks_like_exception_name(match["type"]))
    ):
        report.exc_type, report.exc_module = _split_type(match["type"])
        message = "\n".join([match["msg"] or "", *error_lines[1:]])
    else:
        if footer_type:
            report.exc_type, report.exc_module = _split_type(footer_type)
        elif _FIXTURE_MISSING_RE.match(first):
            report.exc_type, report.exc_module = "FixtureLookupError", "_pytest.fixtures"
        elif first.startswith("assert "):
            report.exc_type = "AssertionError"  # pytest's rewritten assert, shown without a type
        message = "\n".join(error_lines)
    report.message = message.strip("\n")[:MAX_MESSAGE_CHARS]
    return report


def _summary_key(node_id: str) -> str:
    """The name pytest prints in a section title for a node id: "TestK.test_key", or the path."""
    if "::" not in node_id:
        return node_id
    return node_id.split("::", 1)[1].replace("::", ".")


def _report_from_summary(kind: str, node_id: str, message: str) -> ErrorReport:
    split = split_exception_line(message)
    exc_type, exc_module = _split_type(split[0]) if split else ("", "")
    if not split and message.startswith("assert "):
        exc_type = "AssertionError"
    return ErrorReport(
        exc_type=exc_type,
        exc_module=exc_module,
        message=split[1] if split else message,
        test_name=node_id,
        source="pytest",
        phase="call" if kind == "FAILED" else "",
        raw=f"{kind} {node_id}" + (f" - {message}" if message else ""),
    )


def parse_pytest_output(
    text: str, project_files: Collection[str] | None = None
) -> list[ErrorReport]:
    """One report per failing test, setup/teardown error and collection error in pytest's output."""
    try:
        return _parse_pytest_output(_clip(text), _Paths(project_files))
    except Exception:  # noqa: BLE001 - a parser of untrusted text must never take its caller down
        return []


def _parse_pytest_output(text: str, paths: _Paths) -> list[ErrorReport]:
    sections: list[tuple[str, str, list[str]]] = []  # (title, kind, body)
    summary: list[tuple[str, str, str]] = []  # (kind, node id, message)
    banner: str | None = None
    current: tuple[str, str, list[str]] | None = None
    for line in text.splitlines():
        if _BANNER_RE.match(line):
            current = None
            banner = (_BANNER_RE.match(line)["title"] or "").strip().upper()
            continue
        section = _SECTION_RE.match(line)
        if section:
            current = None
            if banner is None or banner in _FAILURE_BANNERS:
                title = section["title"]
                kind = "ERROR" if banner == "ERRORS" or title.startswith("ERROR ") else "FAILED"
                current = (title, kind, [])
                sections.append(current)
            continue
        if banner == "SHORT TEST SUMMARY INFO":
            entry = _SUMMARY_RE.match(line)
            if entry:
                summary.append((entry["kind"], entry["node"], entry["message"] or ""))
            continue
        if current is not None:
            current[2].append(line)

    for _, node_id, _ in summary:
        paths.learn(node_id.split("::", 1)[0])
    unused = list(summary)
    reports = []
    for title, kind, body in sections:
        phase, name = "call", title
        if title.startswith("ERROR collecting "):
            phase, name = "collection", title.removeprefix("ERROR collecting ")
        elif _SETUP_TITLE_RE.match(title):
            phase, name = _SETUP_TITLE_RE.match(title).group("phase", "name")
        entry = next((e for e in unused if e[0] == kind and _summary_key(e[1]) == name), None)
        entry = entry or next((e for e in unused if _summary_key(e[1]) == name), None)
        if entry:
            unused.remove(entry)
        report = _parse_longrepr(body, paths)
        if report is None:
            report = (
                _report_from_summary(*entry)
                if entry
                else ErrorReport(exc_type="", message="", source="pytest")
            )
        report.test_name = entry[1] if entry else name
        report.phase = phase
        report.raw = "\n".join(body)[-MAX_RAW_CHARS:]
        reports.append(report)
    for entry in unused:
        report = _report_from_summary(*entry)
        if "::" not in entry[1]:
            report.phase = "collection"
        reports.append(report)
    return reports


# --- test results (the sandbox's JUnit XML) and CI uploads ---------------------------------------


def _phase_from_message(message: str) -> str:
    if message.startswith("collection failure"):
        return "collection"
    if message.startswith("failed on setup"):
        return "setup"
    if message.startswith("failed on teardown"):
        return "teardown"
    return "call"


def _report_from_failure(
    paths: _Paths,
    test_name: str,
    message: str,
    details: str,
    source: str,
    type_hint: str = "",
    file: str = "",
    line: int | None = None,
) -> ErrorReport:
    details = _clip(details)
    paths.learn(test_name.split("::", 1)[0])
    report = _parse_longrepr(details.splitlines(), paths) if details.strip() else None
    if report is None and details.strip():
        report = _parse_python(details.splitlines(), paths, source=source)
    if report is None:
        report = ErrorReport(exc_type="", message="")
    if not report.exc_type:
        # pytest's message attribute is "Type: message"; setup errors wrap it in quotes.
        unwrapped = re.sub(
            r'^failed on (?:setup|teardown) with "(.*)"$', r"\1", message, flags=re.S
        )
        split = split_exception_line(unwrapped.split("\n", 1)[0])
        if split:
            report.exc_type, report.exc_module = _split_type(split[0])
            report.message = report.message or (
                unwrapped.split(": ", 1)[1] if ": " in unwrapped else split[1]
            )
        elif type_hint:
            report.exc_type, report.exc_module = _split_type(type_hint)
        if not report.message:
            report.message = message
    if not report.frames and file:
        function = test_name.rsplit("::", 1)[-1].split("[", 1)[0]
        report.frames = [paths.frame(file, line, function)]
    report.message = report.message[:MAX_MESSAGE_CHARS]
    report.test_name = test_name
    report.source = source
    report.phase = _phase_from_message(message)
    report.raw = (details or message)[-MAX_RAW_CHARS:]
    return report


def reports_from_test_results(
    tests: Iterable[TestCaseResult], project_files: Collection[str] | None = None
) -> list[ErrorReport]:
    """One report per failed or errored test of a sandbox run (message + pytest's longrepr)."""
    paths = _Paths(project_files)
    reports = []
    for test in tests:
        if getattr(test, "outcome", "") not in ("failed", "error"):
            continue
        try:
            reports.append(
                _report_from_failure(
                    paths,
                    test_name=str(test.name or ""),
                    message=str(test.message or ""),
                    details=str(test.details or ""),
                    source="pytest",
                    file=str(getattr(test, "file", "") or ""),
                    line=getattr(test, "line", None),
                )
            )
        except Exception:  # noqa: BLE001 - one odd test result must not hide the others
            reports.append(
                ErrorReport(exc_type="", message=str(test.message or "")[:MAX_MESSAGE_CHARS])
            )
    return reports


def parse_junit_xml(
    xml_text: str | bytes, project_files: Collection[str] | None = None
) -> list[ErrorReport]:
    """One report per failing or erroring testcase of a JUnit XML report (pytest or others).

    Raises MalformedReport for text that is not JUnit XML, and for any DOCTYPE or entity
    declaration (refused outright: entities are how XML bombs and file disclosure work).
    """
    data = xml_text.encode("utf-8") if isinstance(xml_text, str) else xml_text
    if not isinstance(data, bytes):
        raise MalformedReport("the JUnit report must be text")
    try:
        cases = parse_junit(data)
    except JUnitError as error:
        raise MalformedReport(str(error)) from None
    paths = _Paths(project_files)
    return [
        _report_from_failure(
            paths,
            test_name=case.name,
            message=case.message,
            details=case.details,
            source="junit",
            type_hint=case.error_type,
            file=case.file,
            line=case.line,
        )
        for case in cases
        if case.outcome in ("failed", "error")
    ]


# --- Sentry events -------------------------------------------------------------------------------

_SENTRY_SYNTAX_RE = re.compile(r"\((?P<file>[^(),]+), line (?P<line>\d+)\)$")


def _text(value: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    if type(value) is str:  # the common case first: this runs for every field of every frame
        return value[:limit]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _text_list(value: Any, limit: int = MAX_CONTEXT_LINES) -> list[str]:
    if type(value) is not list:
        return []
    return [item[:1000] for item in value[-limit:] if type(item) is str]


def _sentry_frames(stacktrace: Any) -> list[Frame]:
    if not isinstance(stacktrace, dict) or not isinstance(stacktrace.get("frames"), list):
        return []
    frames = []
    for raw in stacktrace["frames"][-MAX_FRAMES:]:
        if type(raw) is not dict:
            continue
        get = raw.get
        filename = _text(get("filename"), 1000) or _text(get("abs_path"), 1000)
        in_app = get("in_app")
        if type(in_app) is not bool:
            in_app = not is_library_path(_text(get("abs_path"), 1000) or filename)
        frames.append(
            Frame(
                filename=filename,
                lineno=_int(get("lineno")),
                function=_text(get("function"), 500) or "?",
                module=_text(get("module"), 500) or module_from_path(filename),
                context_line=_text(get("context_line"), 1000).strip(),
                pre_context=_text_list(get("pre_context")),
                post_context=_text_list(get("post_context")),
                in_app=in_app,
            )
        )
    return frames


def _thread_stacktrace(event: dict) -> Any:
    threads = event.get("threads")
    values = threads.get("values") if isinstance(threads, dict) else threads
    if not isinstance(values, list):
        return None
    threads = [t for t in values if isinstance(t, dict) and isinstance(t.get("stacktrace"), dict)]
    chosen = next((t for t in threads if t.get("crashed") or t.get("current")), None)
    return (chosen or (threads[0] if threads else {})).get("stacktrace")


def _custom_fingerprint(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [_text(item, 500) for item in value[:50] if _text(item, 500)]


def parse_sentry_exception(event: Any) -> ErrorReport | None:
    """The report for a Sentry event: its last (newest) exception, or its log message.

    Message-only events get exc_type "" and keep the unformatted template for grouping. Returns None
    when the payload holds neither an exception nor a message.
    """
    try:
        return _parse_sentry(event)
    except Exception:  # noqa: BLE001 - ingest must never fail on an odd payload
        return None


def _parse_sentry(event: Any) -> ErrorReport | None:
    if not isinstance(event, dict):
        return None
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else exception
    values = [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []
    custom = _custom_fingerprint(event.get("fingerprint"))
    if values:
        value = values[-1]
        exc_type, exc_module = _split_type(_text(value.get("type"), 500))
        message = _text(value.get("value"))
        stacktrace = value.get("stacktrace") or _thread_stacktrace(event)
        report = ErrorReport(
            exc_type=exc_type,
            exc_module=_text(value.get("module"), 500) or exc_module,
            message=message,
            frames=_sentry_frames(stacktrace),
            source="sentry",
            custom_fingerprint=custom,
        )
        if exc_type in _SYNTAX_TYPES:
            where = _SENTRY_SYNTAX_RE.search(message)  # str(SyntaxError) ends "(file.py, line 3)"
            if where:
                report.syntax_file, report.syntax_line = where["file"], int(where["line"])
        return report

    formatted, template = "", ""
    for key in ("logentry", "message"):
        entry = event.get(key)
        if isinstance(entry, str) and entry:
            formatted = template = entry[:MAX_MESSAGE_CHARS]
            break
        if isinstance(entry, dict):
            template = _text(entry.get("message"))
            formatted = _text(entry.get("formatted")) or template
            if formatted:
                break
    if not formatted:
        return None
    return ErrorReport(
        exc_type="",
        message=formatted,
        message_template=template or formatted,
        frames=_sentry_frames(event.get("stacktrace") or _thread_stacktrace(event)),
        source="sentry",
        custom_fingerprint=custom,
    )
