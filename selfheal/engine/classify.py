"""Category, severity and a one-line root cause for an ErrorReport.

How a report is categorised, first match wins:
1. exception types that say exactly what went wrong (NameError, ImportError, KeyError, ...);
2. the message, for generic types ("Exception", "RuntimeError", "OSError", an HTTP error, or none):
   out of memory, recursion, database connection, rate limit, timeout, network, missing file, ...;
3. broad types (ValueError, ConnectionError, HTTPError, ...) and hints in the type's name.

Severity by category (SEVERITY_BY_CATEGORY):
- critical: memory, db_connection, recursion - the process or the whole service goes down;
- high: syntax, import, indentation - nothing in the module runs; timeout - workers stall;
- medium: the rest, including unknown;
- low: assertion - the code runs, a test's expectation is not met.
A medium error raised while a module is being imported (a `<module>` frame, or a test collection
error) is high: like a syntax error, it stops everything in that module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .tracebacks import ErrorReport

CATEGORIES = (
    "import", "syntax", "indentation", "undefined_name", "attribute", "type", "value", "key",
    "index", "assertion", "file_not_found", "json_parse", "timeout", "recursion", "memory",
    "db_connection", "rate_limit", "network", "unknown",
)  # fmt: skip

SEVERITIES = ("low", "medium", "high", "critical")

SEVERITY_BY_CATEGORY = {
    "memory": "critical",
    "db_connection": "critical",
    "recursion": "critical",
    "syntax": "high",
    "import": "high",
    "indentation": "high",
    "timeout": "high",
    "undefined_name": "medium",
    "attribute": "medium",
    "type": "medium",
    "value": "medium",
    "key": "medium",
    "index": "medium",
    "file_not_found": "medium",
    "json_parse": "medium",
    "network": "medium",
    "rate_limit": "medium",
    "unknown": "medium",
    "assertion": "low",
}


@dataclass(frozen=True)
class Classification:
    category: str
    severity: str
    root_cause: str


_PRECISE_TYPES = {
    "ModuleNotFoundError": "import",
    "ImportError": "import",
    "SyntaxError": "syntax",
    "IndentationError": "indentation",
    "TabError": "indentation",
    "NameError": "undefined_name",
    "UnboundLocalError": "undefined_name",
    "FixtureLookupError": "undefined_name",
    "AttributeError": "attribute",
    "TypeError": "type",
    "KeyError": "key",
    "IndexError": "index",
    "AssertionError": "assertion",
    "FileNotFoundError": "file_not_found",
    "NotADirectoryError": "file_not_found",
    "JSONDecodeError": "json_parse",
    "RecursionError": "recursion",
    "MemoryError": "memory",
    "TimeoutError": "timeout",
    "TimeoutExpired": "timeout",
    "SoftTimeLimitExceeded": "timeout",
    "TimeLimitExceeded": "timeout",
    "OperationalError": "db_connection",
    "InterfaceError": "db_connection",
    "RateLimitError": "rate_limit",
    "TooManyRequests": "rate_limit",
    "Throttled": "rate_limit",
    "ConnectionRefusedError": "network",
    "ConnectionResetError": "network",
    "ConnectionAbortedError": "network",
    "BrokenPipeError": "network",
    "gaierror": "network",
    "herror": "network",
}

_BROAD_TYPES = {
    "ValueError": "value",
    "ZeroDivisionError": "value",
    "OverflowError": "value",
    "UnicodeError": "value",
    "UnicodeDecodeError": "value",
    "UnicodeEncodeError": "value",
    "ValidationError": "value",
    "ConnectionError": "network",
    "URLError": "network",
    "HTTPError": "network",
    "SSLError": "network",
    "ConnectError": "network",
    "NewConnectionError": "network",
    "MaxRetryError": "network",
    "RemoteDisconnected": "network",
    "ProtocolError": "network",
    "APIConnectionError": "network",
    "ClientConnectorError": "network",
    "ServerDisconnectedError": "network",
}

# (category, phrases, pattern): a lower-cased message containing any phrase, or matching the
# pattern, is in the category. Plain phrases keep this fast: every ingested event goes through it.
_MESSAGE_RULES = [
    (
        "memory",
        ("out of memory", "cannot allocate memory", "memoryerror", "std::bad_alloc"),
        r"\boom\b",
    ),
    ("recursion", ("maximum recursion depth",), ""),
    (
        "db_connection",
        (
            "could not connect to server",
            "server closed the connection unexpectedly",
            "can't connect to mysql",
            "can't connect to local mysql",
            "too many connections",
            "connection pool exhausted",
            "connection pool is exhausted",
            "psycopg",
            "operationalerror",
        ),
        r"connection to server at .{0,200}? failed",
    ),  # fmt: skip
    (
        "rate_limit",
        (
            "too many requests",
            "rate limit",
            "rate-limit",
            "ratelimit",
            "rate_limit",
            "throttl",
            "quota exceeded",
        ),
        r"\b429\b",
    ),  # fmt: skip
    (
        "timeout",
        ("timed out", "timeout", "time out", "deadline exceeded", "time limit exceeded"),
        "",
    ),
    (
        "network",
        (
            "connection refused",
            "connection reset",
            "connection aborted",
            "name or service not known",
            "name resolution",
            "nodename nor servname",
            "network is unreachable",
            "no route to host",
            "max retries exceeded",
            "certificate verify failed",
            "broken pipe",
            "getaddrinfo failed",
            "failed to establish a new connection",
        ),
        "",
    ),  # fmt: skip
    ("file_not_found", ("no such file or directory", "file not found"), ""),
    (
        "json_parse",
        (
            "expecting value: line",
            "expecting property name",
            "unterminated string starting at",
            "extra data: line",
        ),
        "",
    ),  # fmt: skip
    ("import", ("no module named", "cannot import name"), ""),
    ("syntax", ("invalid syntax",), ""),
    ("undefined_name", (), r"name '[^']+' is not defined"),
]
_MESSAGE_RULES_COMPILED = [
    (category, phrases, re.compile(pattern) if pattern else None)
    for category, phrases, pattern in _MESSAGE_RULES
]

_NAME_HINTS = [
    ("timeout", re.compile(r"Timeout|TimeLimit")),
    ("rate_limit", re.compile(r"RateLimit|Throttl")),
    ("json_parse", re.compile(r"JSON.*Decode|Decode.*JSON", re.I)),
    ("network", re.compile(r"Connection|Connect(?:Error|Exception)|Socket|Network")),
    ("file_not_found", re.compile(r"FileNotFound|NoSuchFile")),
]

_MESSAGE_SCAN_CHARS = 2000  # rules look at the start of a message; the rest is rarely telling


def categorize(report: ErrorReport) -> str:
    name = report.exc_type.rsplit(".", 1)[-1]
    message = report.message[:_MESSAGE_SCAN_CHARS]
    if name == "Failed":  # pytest.fail(); pytest-timeout reports "Failed: Timeout >1.0s"
        return "timeout" if message.lstrip().startswith("Timeout") else "assertion"
    if name in _PRECISE_TYPES:
        return _PRECISE_TYPES[name]
    lowered = message.lower()
    for category, phrases, pattern in _MESSAGE_RULES_COMPILED:
        if any(phrase in lowered for phrase in phrases) or (pattern and pattern.search(lowered)):
            return category
    if name in _BROAD_TYPES:
        return _BROAD_TYPES[name]
    for category, hint in _NAME_HINTS:
        if hint.search(name):
            return category
    return "unknown"


def severity_for(category: str, report: ErrorReport) -> str:
    severity = SEVERITY_BY_CATEGORY.get(category, "medium")
    crash = report.crash_frame
    at_import = report.phase == "collection" or (crash is not None and crash.function == "<module>")
    if severity == "medium" and at_import:
        return "high"
    return severity


def classify(report: ErrorReport) -> Classification:
    category = categorize(report)
    return Classification(
        category=category,
        severity=severity_for(category, report),
        root_cause=root_cause(category, report),
    )


# --- root causes ---------------------------------------------------------------------------------

_ROOT_CAUSE_CHARS = 300
_QUOTED = r"'([^']*)'"
_DID_YOU_MEAN_RE = re.compile(r"Did you mean:? '?([\w.]+)'?\??")
_NAME_RE = re.compile(r"name " + _QUOTED + r" is not defined")
_UNBOUND_RE = re.compile(r"local variable " + _QUOTED)
_FIXTURE_RE = re.compile(r"fixture " + _QUOTED + r" not found")
_NO_MODULE_RE = re.compile(r"No module named " + _QUOTED)
_CANNOT_IMPORT_RE = re.compile(r"cannot import name " + _QUOTED + r"(?: from " + _QUOTED + ")?")
_OBJECT_ATTR_RE = re.compile(_QUOTED + r" object has no attribute " + _QUOTED)
_MODULE_ATTR_RE = re.compile(r"module " + _QUOTED + r" has no attribute " + _QUOTED)
_TYPE_ATTR_RE = re.compile(r"type object " + _QUOTED + r" has no attribute " + _QUOTED)
_MISSING_FILE_RE = re.compile(r"No such file or directory: " + _QUOTED)


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _where(report: ErrorReport) -> str:
    if report.syntax_file and report.syntax_line:
        return f" (line {report.syntax_line} of {_short_path(report.syntax_file)})"
    crash = report.crash_frame
    if crash is None or crash.lineno is None:
        return ""
    return f" (line {crash.lineno} of {_short_path(crash.filename)})"


def _syntax_where(report: ErrorReport) -> str:
    if not (report.syntax_file and report.syntax_line):
        return ""
    column = f", column {report.syntax_offset}" if report.syntax_offset else ""
    return f" (line {report.syntax_line}{column} of {_short_path(report.syntax_file)})"


def _short_path(path: str) -> str:
    # Relative paths say where in the project; absolute ones mostly say where it was deployed.
    return path.rsplit("/", 1)[-1] if path.startswith("/") else path


def _suggestion(message: str) -> str:
    match = _DID_YOU_MEAN_RE.search(message)
    return f"; did you mean '{match.group(1)}'?" if match else ""


def root_cause(category: str, report: ErrorReport) -> str:
    """One line a person can act on, built from the message and the crash location."""
    message = report.message.strip()
    first_line = message.split("\n", 1)[0]
    short = _one_line(first_line)
    where = _where(report)
    crash = report.crash_frame
    name = report.exc_type or "Error"

    if category == "undefined_name":
        if match := _NAME_RE.search(message):
            text = f"Name '{match[1]}' is used but never defined or imported{where}{_suggestion(message)}"
        elif match := _UNBOUND_RE.search(message):
            text = f"Local variable '{match[1]}' is read before it is assigned{where}"
        elif match := _FIXTURE_RE.search(message):
            text = f"Test fixture '{match[1]}' is requested but not defined{where}"
        else:
            text = f"An undefined name is used: {short}{where}"
    elif category == "import":
        if match := _CANNOT_IMPORT_RE.search(message):
            source = f" from '{match[2]}'" if match[2] else ""
            text = f"Name '{match[1]}' is imported{source}, which does not define it{where}"
        elif match := _NO_MODULE_RE.search(message):
            text = f"Module '{match[1]}' cannot be found: it is not installed or the import path is wrong{where}"
        else:
            text = f"An import fails: {short}{where}"
    elif category == "syntax":
        detail = "" if short.lower() in ("", "invalid syntax") else f": {short}"
        code = f": {_one_line(report.syntax_text, 80)}" if report.syntax_text else ""
        text = f"Invalid syntax{detail}{_syntax_where(report) or where}{code}"
    elif category == "indentation":
        text = f"Indentation is inconsistent: {short}{_syntax_where(report) or where}"
    elif category == "attribute":
        if match := _MODULE_ATTR_RE.search(message):
            text = f"Module '{match[1]}' has no attribute '{match[2]}'{where}{_suggestion(message)}"
        elif match := _TYPE_ATTR_RE.search(message):
            text = f"Class '{match[1]}' has no attribute '{match[2]}'{where}{_suggestion(message)}"
        elif match := _OBJECT_ATTR_RE.search(message):
            article = "None" if match[1] == "NoneType" else f"a '{match[1]}' object"
            text = f"Attribute '{match[2]}' is read from {article}, which has no such attribute{where}{_suggestion(message)}"
        else:
            text = f"A missing attribute is used: {short}{where}"
    elif category == "type":
        text = f"A value of the wrong type or a wrong call signature: {short}{where}"
    elif category == "value":
        text = f"An invalid value ({name}): {short}{where}"
    elif category == "key":
        text = f"Key {short or '?'} is missing from a mapping{where}"
    elif category == "index":
        text = f"An index is out of range: {short}{where}"
    elif category == "assertion":
        test = f" in {report.test_name}" if report.test_name else ""
        text = f"An assertion failed{test}: {short or 'assert'}{where}"
    elif category == "file_not_found":
        if match := _MISSING_FILE_RE.search(message):
            text = f"File '{match[1]}' does not exist{where}"
        else:
            text = f"A file does not exist: {short}{where}"
    elif category == "json_parse":
        text = f"Text that is not valid JSON was parsed as JSON: {short}{where}"
    elif category == "timeout":
        text = f"An operation took too long and timed out: {short or name}{where}"
    elif category == "recursion":
        function = f" in {crash.function}()" if crash and crash.function else ""
        text = f"Unbounded recursion{function}: the call never reaches a base case{where}"
    elif category == "memory":
        text = f"The process ran out of memory{where}"
    elif category == "db_connection":
        text = f"The database is unreachable or refused the connection: {short}{where}"
    elif category == "rate_limit":
        text = f"An upstream service rate-limited the requests: {short}{where}"
    elif category == "network":
        text = f"A network connection failed ({name}): {short}{where}"
    else:
        label = f"{name}: {short}" if report.exc_type else (short or "Unknown failure")
        text = f"{label}{where}"
    return _one_line(text, _ROOT_CAUSE_CHARS)
